"""Viewer benchmark: a 300-instance 512×512 CT in the reading page, in headless Chromium, on loopback.

Run it by hand (``python -m benchmarks.viewer``), never as a timed test; the
figures are kept in docs/benchmarks.md ("Viewer (issue #6)"). It needs the
front-end build (``npm ci && npm run build``) and Debian's Chromium.

It (re)creates the PostgreSQL database ``teleradio_bench_viewer``, migrates it,
receives a synthetic ``ct-chest`` study (300 × 512×512, 16 bits, ~150 MiB) the
way the gateway does (``instance_receive``), gives it to a radiologist
(IN_READING), starts gunicorn as ``bin/run`` does (2 workers × 4 threads,
WhiteNoise), logs in with Playwright and opens the reading page ``--runs``
times. From the Performance API of each run:

- first image: the viewer's ``viewer:first-image`` mark (dwv has drawn the first
  image), in ms since the navigation started (target < 500 ms);
- stack ready: the ``viewer:stack-ready`` mark, every image loaded and decoded
  (target < 5 s);
- scroll rate once loaded: the reader's ArrowDown key through the whole stack,
  waiting for the next animation frame after each key so every image is really
  painted (capped by the 60 Hz frame rate; target ≥ 25 images/s); and the same
  without waiting for frames (how fast dwv draws).

``--head-first`` numbers the images from the head down, as many CT scanners
do: their instance numbers then run against the slice normal, which costs dwv a
buffer move per image if the list comes in instance-number order.

Targets (issue #6): first image < 500 ms, stack < 5 s, scroll ≥ 25 images/s.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from core.testing import free_port

PG = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "teleradio_bench_viewer"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

SCROLL = """async ({frames}) => {
  const pane = document.querySelector('[data-pane="current"]');
  const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
  key('Home');
  await new Promise(r => requestAnimationFrame(r));
  const n = 299;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    key('ArrowDown');
    if (frames) await new Promise(r => requestAnimationFrame(r));
  }
  if (!frames) await new Promise(r => requestAnimationFrame(r));
  const ms = performance.now() - t0;
  return {images: n, ms, index: Number(pane.dataset.index)};
}"""


# Where the time goes: when the scripts and the image list arrived, the image responses.
RESOURCES = r"""() => {
  const all = performance.getEntriesByType('resource');
  const end = (part) => Math.max(0, ...all.filter(e => e.name.includes(part)).map(e => e.responseEnd));
  const wado = all.filter(e => e.name.includes('/viewer/images/')).sort((a, b) => a.responseEnd - b.responseEnd);
  const waits = wado.map(e => e.responseStart - e.requestStart).sort((a, b) => a - b);
  return {
    viewer_js_end_ms: Math.max(end('/vendor/dwv/'), end('/js/viewer')),
    images_json_end_ms: Math.max(0, ...all.filter(e => /\/exams\/\d+\/images\//.test(e.name)).map(e => e.responseEnd)),
    first_response_ms: wado.length ? wado[0].responseEnd : 0,
    last_response_ms: wado.length ? wado[wado.length - 1].responseEnd : 0,
    server_wait_p50_ms: waits.length ? waits[Math.floor(waits.length / 2)] : 0,
    image_requests: wado.length,
  };
}"""


# WATERFALL=1: the first requests of a run, for a closer look.
WATERFALL = """() => performance.getEntriesByType('resource').slice(0, 30).map(e =>
  [e.startTime, e.requestStart, e.responseStart, e.responseEnd].map(Math.round).join(' ')
  + ' ' + e.name.slice(22, 90))"""


def _recreate_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _populate(storage: Path, count: int, head_first: bool = False) -> int:
    """Migrate, create a reader and receive the study; the exam's id."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from dicom_gateway.services import instance_receive
    from dicom_gateway.simulator import build_study
    from dicom_gateway.tests.dicom_factories import encode
    from sites.tests.factories import CredentialFactory, ModalityFactory, RadiologistFactory, SiteFactory
    from worklist.models import Exam

    site = SiteFactory(name="CH Banc d'essai")
    rad = RadiologistFactory(user__ght=site.ght, user__username="bench")  # password: "password"
    CredentialFactory(radiologist=rad, site=site)
    modality = ModalityFactory(site=site, ae_title="CT_BENCH")
    uid = None
    for i, ds in enumerate(build_study("ct-chest", count=count, patient_id="PIDBENCH")):
        uid = ds.StudyInstanceUID
        if head_first:  # numbered from the head down: against the slice normal (+z)
            ds.InstanceNumber = count - i
        assert instance_receive(data=encode(ds), modality=modality).status == 0
    exam = Exam.objects.get(study_instance_uid=uid)
    Exam.objects.filter(pk=exam.pk).update(status="IN_READING", assigned_to=rad.user)
    return exam.pk


def _wait_for(url: str, timeout: float = 30) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server not up: {url}")


def _server_only(base: str, exam_id: int) -> dict:
    """The images without a browser, by the viewer's signed URLs then by WADO-URI: 1 client, then 6 at once.

    6: what Chromium opens per host. The client (requests) runs on the same cores as the server.
    """
    import concurrent.futures
    import re

    import requests

    session = requests.Session()
    page = session.get(f"{base}/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        f"{base}/login/",
        data={"username": "bench", "password": "password", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
    )
    started = time.perf_counter()
    manifest = session.get(f"{base}/exams/{exam_id}/images/").json()
    figures = {"image_list_ms": (time.perf_counter() - started) * 1000}
    series = manifest["series"][0]
    wado = (
        f"{base}/dicomweb/wado?requestType=WADO&contentType=application%2Fdicom"
        f"&studyUID={manifest['study_instance_uid']}&seriesUID={series['uid']}&objectUID="
    )
    paths = {"signed": base + series["images"], "wado": wado}

    def get(url: str) -> int:
        response = session.get(url)
        assert response.status_code == 200, response.status_code
        return len(response.content)

    for name, prefix in paths.items():
        urls = [prefix + uid for uid in series["instances"]]
        for clients in (1, 6):
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                size = sum(pool.map(get, urls))
            elapsed = time.perf_counter() - started
            figures[f"{name}_per_s_{clients}"] = len(urls) / elapsed
            figures[f"{name}_mb_per_s_{clients}"] = size / elapsed / 1e6
    print(
        "server only: image list {image_list_ms:.0f} ms; viewer's signed URLs {signed_per_s_1:.0f} images/s "
        "with 1 client, {signed_per_s_6:.0f} images/s ({signed_mb_per_s_6:.0f} MB/s) with 6; WADO-URI "
        "{wado_per_s_1:.0f} images/s with 1 client, {wado_per_s_6:.0f} images/s ({wado_mb_per_s_6:.0f} MB/s) "
        "with 6".format(**figures),
        flush=True,
    )
    return figures


def _measure(base: str, exam_id: int, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.get_by_label("Identifiant").fill("bench")
        page.get_by_label("Mot de passe").fill("password")
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        for run in range(runs):
            page.goto(f"{base}/exams/{exam_id}/")
            page.wait_for_selector('[data-pane="current"][data-state="ready"]', timeout=120_000)
            marks = page.evaluate(
                "() => Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]))"
            )
            nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
            images = page.evaluate(RESOURCES)
            if os.environ.get("WATERFALL"):
                for e in page.evaluate(WATERFALL):
                    print(e)
            painted = page.evaluate(SCROLL, {"frames": True})
            raw = page.evaluate(SCROLL, {"frames": False})
            results.append(
                {
                    "run": run + 1,
                    "first_image_ms": marks["viewer:first-image"],
                    "stack_ready_ms": marks["viewer:stack-ready"],
                    "dom_content_loaded_ms": nav["domContentLoadedEventEnd"],
                    "scroll_painted_per_s": painted["images"] / painted["ms"] * 1000,
                    "scroll_raw_per_s": raw["images"] / raw["ms"] * 1000,
                    "last_index": painted["index"],
                    **images,
                }
            )
            print(
                "run {run}: first image {first_image_ms:.0f} ms, stack ready {stack_ready_ms:.0f} ms, "
                "scroll {scroll_painted_per_s:.1f} images/s painted ({scroll_raw_per_s:.0f} without frames); "
                "page script {viewer_js_end_ms:.0f} ms, image list {images_json_end_ms:.0f} ms, "
                "first image response {first_response_ms:.0f} ms, last {last_response_ms:.0f} ms, "
                "server wait p50 {server_wait_p50_ms:.0f} ms".format(**results[-1]),
                flush=True,
            )
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument(
        "--head-first",
        action="store_true",
        help="number the images from the head down, as many CT scanners do (against the slice normal)",
    )
    args = parser.parse_args()
    print("load average at the start (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    if not (ROOT / "static" / "vendor" / "dwv" / "dwv.js").exists():
        sys.exit("static/vendor/dwv/dwv.js is missing: run `npm ci && npm run build` first")

    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings")
    # Production settings (hashed, compressed static files served by WhiteNoise),
    # over plain HTTP on loopback.
    scratch = Path(tempfile.mkdtemp(prefix="teleradio-bench-viewer-"))
    storage = scratch / "storage"
    os.environ.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-only-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_ROOT": str(scratch / "static"),
            "STORAGE_ROOT": str(storage),
        }
    )
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True)  # noqa: S603
    port = free_port()
    try:
        _recreate_database()
        started = time.monotonic()
        exam_id = _populate(storage, args.count, args.head_first)
        print(f"{args.count} instances received in {time.monotonic() - started:.1f} s", flush=True)
        env = {**os.environ, "WEB_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "WEB_THREADS": "4"}
        server = subprocess.Popen(  # noqa: S603 - our own gunicorn, loopback only
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "teleradio.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/login/")
            _server_only(base, exam_id)  # also warms both workers up
            results = _measure(base, exam_id, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print()
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    print("load average at the end (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    flags = " --head-first" if args.head_first else ""
    print(f"date: {datetime.date.today().isoformat()} · command: python -m benchmarks.viewer --runs {args.runs}{flags}")
    print(f"median of {len(results)} runs, {args.count} × 512×512 CT:")
    print(f"  first image displayed: {med('first_image_ms'):.0f} ms (target < 500 ms)")
    print(f"  whole stack ready:     {med('stack_ready_ms'):.0f} ms (target < 5000 ms)")
    print(f"  scroll, painted:       {med('scroll_painted_per_s'):.1f} images/s (target >= 25)")
    print(f"  scroll, without frames:{med('scroll_raw_per_s'):.0f} images/s")


if __name__ == "__main__":
    main()
