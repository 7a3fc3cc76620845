"""Drives the Interlude review console in headless Chromium (Debian's chromium and
chromium-driver) with selenium. Started by ConsoleBrowserTests.swift, which has started the
system, the console and four paused runs:
  review-ana (approval), review-bo (approval), review-cy (edit-state), review-dee (tool-review: one refused edit, then a valid one).
Usage: python console_browser.py BASE_URL SCREENSHOT_DIR ACTOR_HEADER ACTOR
Exits non-zero with a message on the first thing that is not as expected."""
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

BASE, SHOTS, HEADER, ACTOR = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
WAIT = 60


def step(text):
    print("step:", text, flush=True)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def http_status(path, data=None, headers=None):
    request = urllib.request.Request(BASE + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def shot(driver, name):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(720, min(height + 160, 4000)))  # the window includes the browser's frame
    driver.save_screenshot(os.path.join(SHOTS, f"console-{name}.png"))
    driver.set_window_size(1280, 900)


def wait_for(driver, what, condition):
    try:
        return WebDriverWait(driver, WAIT).until(lambda d: condition(d))
    except Exception as error:
        raise AssertionError(f"timed out waiting for {what} on {driver.current_url}: {error}\n{driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def outcome(driver):
    status = driver.find_element(By.ID, "live-status")
    return status.get_attribute("data-outcome")


def follow(driver, expected):
    wait_for(driver, "the live panel to end", lambda d: outcome(d))
    got = outcome(driver)
    text = driver.find_element(By.ID, "live-status").text
    expect(got == expected, f"the run ended '{got}' ({text}), expected '{expected}'")
    return text


def identify(driver):
    """The reverse proxy's part: every request of this tab carries the identity header."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {HEADER: ACTOR}})


def open_thread(driver, thread):
    driver.get(BASE + "/")
    link = wait_for(driver, f"a link to {thread}", lambda d: d.find_element(By.LINK_TEXT, thread))
    link.click()
    wait_for(driver, f"the page of {thread}", lambda d: d.find_element(By.ID, "thread-id").text == thread)


def main():
    # Without the identity header the console refuses (401); a POST without the CSRF cookie
    # and token is refused (403) even with the header, and sends nothing.
    status, _ = http_status("/")
    expect(status == 401, f"a request without the {HEADER} header got {status}, expected 401")
    form = urllib.parse.urlencode({"thread_id": "review-ana", "interrupt_id": "x", "decision": "approve"}).encode()
    status, body = http_status("/thread/answer", data=form, headers={HEADER: ACTOR, "Content-Type": "application/x-www-form-urlencoded"})
    expect(status == 403 and "Nothing was sent" in body, f"a POST without the CSRF token got {status}, expected 403")
    step("identity header and CSRF refusals")

    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    try:
        identify(driver)

        driver.get(BASE + "/")
        wait_for(driver, "four pending questions", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".pending-row")) >= 4)
        expect(driver.find_element(By.ID, "actor").text == ACTOR, "the page does not show the actor from the header")
        rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, ".pending-row")]
        for thread in ["review-ana", "review-bo", "review-cy", "review-dee"]:
            expect(any(thread in row for row in rows), f"{thread} is not on the list: {rows}")
        shot(driver, "list")
        step("the list shows the four pending questions")

        driver.get(BASE + "/?graph=approval")
        expect(len(driver.find_elements(By.CSS_SELECTOR, ".pending-row")) == 2, "filtering by graph 'approval' did not leave 2 rows")
        driver.get(BASE + "/?min_age=soon")
        expect("not a number of minutes" in driver.find_element(By.ID, "error").text, "a bad age filter gave no clear error")
        step("filters by graph and refuses a bad age")

        open_thread(driver, "review-ana")
        expect("Send this email to ana@example.com?" in driver.page_source, "the approval question is not shown")
        shot(driver, "thread")
        first = driver.current_window_handle
        driver.switch_to.new_window("tab")
        identify(driver)
        driver.get(BASE + "/thread?id=review-ana")  # a second, soon stale, page of the same question
        stale = driver.current_window_handle
        driver.switch_to.window(first)
        driver.find_element(By.ID, "approve").click()
        follow(driver, "completed")
        shot(driver, "live")
        step("approved review-ana and followed the run to completion")

        driver.switch_to.window(stale)
        driver.find_element(By.ID, "comment").send_keys("too late")
        driver.find_element(By.ID, "reject").click()
        text = follow(driver, "refused")
        expect("already answered" in text, f"the refusal is not in words: {text}")
        shot(driver, "refused")
        driver.close()
        driver.switch_to.window(first)
        step("a second answer to the same question is refused in words")

        open_thread(driver, "review-bo")
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
        driver.find_element(By.ID, "json-answer").send_keys('{"approved": tru')
        driver.find_element(By.ID, "send-json").click()
        error = wait_for(driver, "the JSON error", lambda d: d.find_element(By.ID, "answer-error"))
        expect("not valid JSON" in error.text, f"invalid JSON gave: {error.text}")
        expect(driver.find_element(By.ID, "json-answer").get_attribute("value") == '{"approved": tru', "the typed JSON was lost")
        driver.find_element(By.ID, "comment").send_keys("wrong recipient")
        driver.find_element(By.ID, "reject").click()
        follow(driver, "completed")
        step("invalid JSON is refused with the text kept; rejected review-bo")

        open_thread(driver, "review-cy")
        draft = driver.find_element(By.ID, "draft")
        expect(draft.get_attribute("value").strip() != "", "the draft is not prefilled")
        draft.clear()
        draft.send_keys("A shorter post, edited in the browser.")
        shot(driver, "edit")
        driver.find_element(By.ID, "edit").click()
        follow(driver, "completed")
        step("edited the draft of review-cy")

        open_thread(driver, "review-dee")
        buttons = [b.get_attribute("id") for b in driver.find_elements(By.CSS_SELECTOR, "form.answer button[name=decision]")]
        expect(buttons == ["approve", "edit", "reject", "send-json"], f"the calculator review offers {buttons}, expected approve, edit, reject (and the JSON box)")
        expect(len(driver.find_elements(By.ID, "args-schema")) == 1, "the tool's argument schema is not shown")
        arguments = driver.find_element(By.ID, "arguments")
        arguments.clear()
        arguments.send_keys('{"a": 6, "op": "%", "b": 8}')
        driver.find_element(By.ID, "edit").click()
        text = follow(driver, "refused")
        expect("$.op" in text and "invalid_value" in text, f"the out-of-schema edit was not refused in words: {text}")
        shot(driver, "tool-refused")
        step("an edit that breaks the tool's argument schema is refused by the worker, in words")

        open_thread(driver, "review-dee")
        arguments = driver.find_element(By.ID, "arguments")
        expect(json.loads(arguments.get_attribute("value")).get("op") == "*", "the tool call's arguments are not prefilled")
        arguments.clear()
        arguments.send_keys('{"a": 6, "op": "*", "b": 8}')
        shot(driver, "tool")
        driver.find_element(By.ID, "edit").click()
        follow(driver, "completed")
        step("edited the tool call of review-dee")

        driver.get(BASE + "/thread?id=review-ana")
        wait_for(driver, "the timeline", lambda d: d.find_element(By.ID, "timeline"))
        expect(driver.find_element(By.ID, "thread-status").text == "completed", "review-ana is not completed")
        timeline = driver.find_element(By.ID, "timeline").text
        expect("Answered by " + ACTOR in timeline, "the timeline does not say the reviewer answered: " + timeline)
        shot(driver, "timeline")
        driver.get(BASE + "/")
        wait_for(driver, "an empty list", lambda d: d.find_element(By.ID, "empty"))
        step("the thread page shows the timeline; nothing is pending any more")
    finally:
        driver.quit()
    print("browser: all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"browser: FAILED: {error}", flush=True)
        sys.exit(1)
