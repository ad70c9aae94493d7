import pytest

from core.templatetags.dicom import person_name


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("DUPONT^Jeanne", "DUPONT Jeanne"),
        ("LE FLOC'H^Gaëlle^Marie", "LE FLOC'H Gaëlle Marie"),
        ("DUPONT^Jean^^Dr", "Dr DUPONT Jean"),
        ("DUPONT", "DUPONT"),
        ("DUPONT^Jean=デュポン^ジャン", "DUPONT Jean"),
        ("", ""),
        ("^^^", ""),
    ],
)
def test_it_formats_dicom_person_names(value, shown):
    assert person_name(value) == shown


def test_it_leaves_escaping_to_the_template_engine():
    from django.template import Context, Template

    rendered = Template("{% load dicom %}{{ n|person_name }}").render(Context({"n": "<script>^x"}))
    assert rendered == "&lt;script&gt; x"
