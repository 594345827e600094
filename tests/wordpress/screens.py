"""wp-admin as the dealer uses it, in Chromium: the plugin's settings, the car edit screen
(price, Sync Now, trash) and the car list's Marketplaces column. Element names are the
plugin's contract (issue 13)."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.wordpress.harness import WordPress

WAIT = 60


def _wait(driver, condition):
    from selenium.common.exceptions import StaleElementReferenceException

    # The plugin's script re-renders states while a car is on its way: re-query, don't fail.
    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _click(driver, element) -> None:
    # wp-admin's fixed admin bar covers elements scrolled to the top edge: centre them first.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _fill(driver, name: str, value: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def configure_plugin(driver, site: WordPress, *, url: str, site_id: str, secret: str, api_key: str,
                     post_types: list[str]) -> None:
    driver.get(f"{site.url}/wp-admin/options-general.php?page=forecourt")
    _wait(driver, ec.presence_of_element_located((By.NAME, "forecourt_url")))
    _fill(driver, "forecourt_url", url)
    _fill(driver, "forecourt_site_id", site_id)
    _fill(driver, "forecourt_webhook_secret", secret)
    _fill(driver, "forecourt_api_key", api_key)
    for box in driver.find_elements(By.NAME, "forecourt_post_types[]"):
        if (box.get_attribute("value") in post_types) != box.is_selected():
            _click(driver, box)
    _click(driver, driver.find_element(By.ID, "submit"))
    _wait(driver, ec.presence_of_element_located((By.NAME, "forecourt_url")))
    source = driver.page_source
    assert secret not in source and api_key not in source, "a secret was printed back"


def test_connection(driver, site: WordPress) -> str:
    driver.get(f"{site.url}/wp-admin/options-general.php?page=forecourt")
    _click(driver, _wait(driver, ec.element_to_be_clickable((By.ID, "forecourt-test-connection"))))
    result = driver.find_element(By.ID, "forecourt-test-result")
    _wait(driver, lambda d: result.text.strip())
    return result.text


def edit_price(driver, site: WordPress, post_id: int, price: str) -> None:
    driver.get(f"{site.url}/wp-admin/post.php?post={post_id}&action=edit")
    field = _wait(driver, ec.presence_of_element_located((By.ID, "fc-test-price")))
    field.clear()
    field.send_keys(price)
    _click(driver, driver.find_element(By.ID, "publish"))  # "Update" on the classic screen
    _wait(driver, ec.presence_of_element_located((By.ID, "message")))


def sync_now(driver, site: WordPress, post_id: int) -> str:
    driver.get(f"{site.url}/wp-admin/post.php?post={post_id}&action=edit")
    _wait(driver, ec.presence_of_element_located((By.ID, "forecourt-marketplaces")))
    _click(driver, driver.find_element(By.ID, "forecourt-sync-now"))
    return _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, ".notice.forecourt-synced"))).text


def trash(driver, site: WordPress, post_id: int) -> None:
    driver.get(f"{site.url}/wp-admin/post.php?post={post_id}&action=edit")
    _click(driver, _wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "#delete-action a.submitdelete"))))
    # Back on the car list (wp-admin strips "trashed=1" from the address bar with JS).
    _wait(driver, ec.url_contains("/wp-admin/edit.php"))


def marketplace_states(driver, site: WordPress, post_id: int, *, status: str = "all",
                       want: str | None = None) -> dict[str, str]:
    """{marketplace: state} from the car list's Marketplaces column once the page's own
    refresh has run; with ``want``, waits until a destination shows that state."""
    driver.get(f"{site.url}/wp-admin/edit.php?post_type=inventory_vehicle&post_status={status}")
    cell = f"#post-{post_id} td.column-forecourt_marketplaces"
    _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, cell)))

    def states(d) -> dict[str, str]:
        found = {}
        for span in d.find_elements(By.CSS_SELECTOR, f"{cell} span.forecourt-status"):
            classes = span.get_attribute("class").split()
            state = next((c.removeprefix("forecourt-status-") for c in classes
                          if c.startswith("forecourt-status-")), "")
            found[span.get_attribute("data-marketplace")] = state
        return found

    if want is not None:
        _wait(driver, lambda d: want in states(d).values())
    return states(driver)


def meta_box(driver, site: WordPress, post_id: int, *, want: str | None = None) -> dict:
    """The edit screen's Marketplaces box once its refresh has run: each destination's state,
    message, field errors, photo problems and listing link or id."""
    driver.get(f"{site.url}/wp-admin/post.php?post={post_id}&action=edit")
    box = _wait(driver, ec.presence_of_element_located((By.ID, "forecourt-marketplaces")))

    def classes(d) -> list[list[str]]:
        return [span.get_attribute("class").split() for span in
                d.find_elements(By.CSS_SELECTOR, "#forecourt-marketplaces .forecourt-destination .forecourt-status")]

    if want is None:
        _wait(driver, classes)
    else:
        _wait(driver, lambda d: any(f"forecourt-status-{want}" in c for c in classes(d)))
    found = {}
    for section in box.find_elements(By.CSS_SELECTOR, ".forecourt-destination"):
        badge = section.find_element(By.CSS_SELECTOR, ".forecourt-status")
        problems = {}
        for group in section.find_elements(By.CSS_SELECTOR, ".forecourt-problems"):
            title = group.find_element(By.CSS_SELECTOR, ".forecourt-problems-title").text
            problems[title] = [li.text for li in group.find_elements(By.TAG_NAME, "li")]
        links = section.find_elements(By.CSS_SELECTOR, "a.forecourt-listing-link")
        ids = section.find_elements(By.CSS_SELECTOR, ".forecourt-remote-id")
        messages = section.find_elements(By.CSS_SELECTOR, ".forecourt-message")
        found[badge.get_attribute("data-marketplace")] = {
            "state": next(c.removeprefix("forecourt-status-") for c in badge.get_attribute("class").split()
                          if c.startswith("forecourt-status-")),
            "text": badge.text,
            "message": messages[0].text if messages else "",
            "problems": problems,
            "link": links[0].get_attribute("href") if links else None,
            "listing_id": ids[0].text if ids else None,
        }
    return found


def bulk_sync_now(driver, site: WordPress, post_ids: list[int]) -> str:
    driver.get(f"{site.url}/wp-admin/edit.php?post_type=inventory_vehicle")
    for post_id in post_ids:
        _click(driver, _wait(driver, ec.presence_of_element_located((By.ID, f"cb-select-{post_id}"))))
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "bulk-action-selector-top")).select_by_value("forecourt_sync_now")
    _click(driver, driver.find_element(By.ID, "doaction"))
    return _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, ".notice.forecourt-synced"))).text
