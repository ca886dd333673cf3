#!/usr/bin/env python
"""Open a screening report (tools/report.py) in headless Chromium and check what it shows.

  python scripts/check_report_browser.py output/report_demo/report \
      --screenshot docs/results/report_screenshot.png

Checks, each printed PASS/FAIL (exit 0 when all pass, 1 otherwise):

1. the page loads from file:// with no console error and fetches nothing from the network;
2. the flagged-figure cards exist (as many as the page's heading says), sorted by score;
3. every card's images load (scrolled into view, since they are lazy): ``naturalWidth > 0``;
4. the score filter works: typing a threshold in its number box hides exactly the cards scored
   below it (and moves the slider), pressing Home on the slider shows them all again;
5. the authentic and unreadable lists are there.

Then it saves a screenshot of the page (from the top, up to ``--screenshot-max-height`` px).
Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package; when one is
missing it says how to install it and exits 2. Not part of ``make test`` (CI has no browser).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

EXIT_MISSING = 2
NETWORK_SCHEMES = ("http", "https", "ws", "wss", "ftp")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def find_browser(binary=None, driver=None):
    """Paths of the Chromium binary and its chromedriver; exits 2 with install hints if absent."""
    binary = binary or shutil.which("chromium") or "/usr/bin/chromium"
    driver = driver or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [p for p in (binary, driver) if not os.path.isfile(p)]
    if missing:
        print(
            f"missing: {', '.join(missing)}\ninstall them with:\n"
            "  apt-get install -y chromium chromium-driver",
            file=sys.stderr,
        )
        sys.exit(EXIT_MISSING)
    try:
        import selenium  # noqa: F401
    except ImportError:
        print(
            "missing: the selenium package\ninstall it with:\n  pip install selenium==4.51.0",
            file=sys.stderr,
        )
        sys.exit(EXIT_MISSING)
    return binary, driver


def start_browser(binary, driver, profile, width, height):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


class Checks:
    """Collects PASS/FAIL lines."""

    def __init__(self):
        self.failed = 0

    def __call__(self, ok, what, detail=""):
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f"  ({detail})" if detail else ""))
        return ok


def wait_for(condition, timeout, interval=0.1):
    """Polls ``condition()`` until it is truthy or ``timeout`` seconds pass; returns its value."""
    end = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < end:
        time.sleep(interval)
        value = condition()
    return value


def card_states(browser):
    """(case_id, score, displayed) of every card, in page order."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('article.card')).map(function (c) {"
        "  return [c.getAttribute('data-case-id'), parseFloat(c.getAttribute('data-score')),"
        "          c.offsetParent !== null]; });"
    )


def check_images(browser, check, timeout):
    from selenium.webdriver.common.by import By

    cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
    for card in cards:  # lazy images only load near the viewport
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
        time.sleep(0.05)
    script = (
        "return Array.from(document.querySelectorAll('article.card img')).map(function (i) {"
        "  return [i.getAttribute('src'), i.complete, i.naturalWidth]; });"
    )

    def all_loaded():
        states = browser.execute_script(script)
        return states if all(complete and width > 0 for _, complete, width in states) else None

    images = wait_for(all_loaded, timeout) or browser.execute_script(script)
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    check(
        images and not broken,
        "card images loaded (naturalWidth > 0)",
        f"{len(images) - len(broken)} of {len(images)}"
        + (f"; not loaded: {broken[:3]}" if broken else ""),
    )


def check_filter(browser, check):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    states = card_states(browser)
    scores = sorted({score for _, score, _ in states})
    # A threshold between two distinct scores hides some cards; with one score, hide them all.
    threshold = (
        (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
        if len(scores) > 1
        else scores[0] + 0.005
    )
    threshold = round(threshold, 3)
    box = browser.find_element(By.ID, "score-filter-value")
    slider = browser.find_element(By.ID, "score-filter")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(f"{threshold}")
    states = card_states(browser)
    shown = {case for case, _, displayed in states if displayed}
    expected = {case for case, score, _ in states if score >= threshold}
    check(
        shown == expected and len(shown) < len(states),
        f"typing {threshold} in the score filter hides the cards scored below it",
        f"{len(shown)} of {len(states)} shown",
    )
    count = browser.find_element(By.ID, "shown-count").text
    check(
        count.startswith(f"{len(shown)} of {len(states)}"), "the shown-count follows", repr(count)
    )
    check(
        abs(float(slider.get_attribute("value")) - threshold) < 0.006,
        "the slider follows",
        slider.get_attribute("value"),
    )
    slider.send_keys(Keys.HOME)
    states = card_states(browser)
    check(
        all(displayed for _, _, displayed in states),
        "Home on the slider shows every card again",
        f"{len(states)} cards",
    )


def requested_urls(browser):
    """Every URL the page requested so far (DevTools Network events of the performance log)."""
    import json

    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def full_page_screenshot(browser, path, scale=1.0, max_height=6000):
    """PNG of the page from its top, at most ``max_height`` CSS pixels tall, through the DevTools
    protocol (falls back to the viewport)."""
    import base64

    browser.execute_script("window.scrollTo(0, 0);")
    try:
        metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], max_height),
            "scale": scale,
        }
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        Path(path).write_bytes(base64.b64decode(shot["data"]))
    except Exception as e:  # noqa: BLE001 (any protocol failure: keep the viewport shot)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"full-page capture failed ({reason}); saving the viewport", file=sys.stderr)
        browser.save_screenshot(str(path))


def run(args):
    index = Path(args.report).resolve()
    index = index / "index.html" if index.is_dir() else index
    if not index.is_file():
        print(f"error: no report page at {index}", file=sys.stderr)
        return EXIT_MISSING
    binary, driver = find_browser(args.chromium, args.chromedriver)
    from selenium.webdriver.common.by import By

    check = Checks()
    profile = tempfile.mkdtemp(prefix="report-check-chromium-")
    browser = start_browser(binary, driver, profile, args.width, args.height)
    try:
        browser.get(index.as_uri())
        wait_for(
            lambda: browser.execute_script("return document.readyState") == "complete", args.timeout
        )
        check(browser.title != "", "page loaded", f"{index.as_uri()}: {browser.title!r}")
        timing = browser.execute_script(
            "var t = performance.getEntriesByType('navigation')[0];"
            "return t ? [t.domContentLoadedEventEnd, t.loadEventEnd] : null;"
        )
        if timing:
            print(f"INFO  DOMContentLoaded {timing[0]:.0f} ms, load {timing[1]:.0f} ms")
        cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
        heading = browser.find_element(By.ID, "flagged").text
        check(
            len(cards) > 0 and heading.endswith(f"({len(cards)})"),
            "flagged-figure cards exist",
            f"{len(cards)} cards; heading {heading!r}",
        )
        scores = [score for _, score, _ in card_states(browser)]
        check(
            scores == sorted(scores, reverse=True),
            "cards sorted by score, best first",
            ", ".join(f"{s:.3f}" for s in scores[:8]),
        )
        if cards:
            check_images(browser, check, args.timeout)
            check_filter(browser, check)
        for list_id in ("authentic-list", "unreadable-list"):
            items = browser.find_elements(By.CSS_SELECTOR, f"#{list_id} li")
            check(
                bool(browser.find_elements(By.ID, list_id)),
                f"#{list_id} present",
                f"{len(items)} figures",
            )
        # (chrome:// requests are the browser's own start page, not the report's.)
        requests = requested_urls(browser)
        local = [url for url in requests if url.startswith("file:")]
        remote = [url for url in requests if url.split(":", 1)[0] in NETWORK_SCHEMES]
        check(
            local and not remote,
            "nothing fetched from the network",
            f"{len(local)} local files" + (f"; remote: {remote[:3]}" if remote else ""),
        )
        errors = [
            entry["message"]
            for entry in browser.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]
        check(not errors, "no console errors", "; ".join(errors[:3]))
        if args.screenshot:
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            full_page_screenshot(
                browser, args.screenshot, args.screenshot_scale, args.screenshot_max_height
            )
            print(f"saved screenshot {args.screenshot}")
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"{'all checks passed' if not check.failed else f'{check.failed} check(s) failed'}")
    return 0 if not check.failed else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("report", help="report folder (or its index.html)")
    parser.add_argument("--screenshot", help="PNG to save the rendered page to")
    parser.add_argument(
        "--screenshot-scale",
        type=float,
        default=1.0,
        help="scale of the screenshot (e.g. 0.75 for a smaller file)",
    )
    parser.add_argument(
        "--screenshot-max-height",
        type=int,
        default=6000,
        help="capture at most this many CSS pixels of the page, from the top",
    )
    parser.add_argument("--width", type=int, default=1280, help="window width, px")
    parser.add_argument("--height", type=int, default=1000, help="window height, px")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for loading")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    parser.add_argument("--chromedriver", help="chromedriver (default: chromedriver on PATH)")
    sys.exit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
