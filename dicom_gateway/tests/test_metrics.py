import shutil

from dicom_gateway.metrics import StoreSpaceCollector


def _values(collector):
    return {family.name: family.samples[0].value for family in collector.collect()}


def test_the_store_space_is_that_of_its_filesystem(tmp_path):
    values = _values(StoreSpaceCollector(tmp_path))
    usage = shutil.disk_usage(tmp_path)
    assert values["teleradio_gateway_storage_size_bytes"] == usage.total
    assert 0 < values["teleradio_gateway_storage_free_bytes"] <= usage.total


def test_a_missing_store_gives_no_figure_rather_than_an_error(tmp_path):
    assert _values(StoreSpaceCollector(tmp_path / "not-yet")) == {}
