"""The relevance label on the site and the API: the honest empty state, the pre-filled need
form, and recommendations that only recommend what reaches 相关."""

from __future__ import annotations

import re
from urllib.parse import unquote

from tests.web.conftest import Browser


def test_nonsense_gets_the_empty_state_and_a_link_to_publish_it(browser: Browser) -> None:
    page = browser.get("/?q=asdfqwer")
    assert page.status_code == 200
    assert "暂无高度匹配的成果" in page.text and 'data-count="0"' in page.text
    link = re.search(r'id="publish-need" href="([^"]+)"', page.text)
    assert link and link.group(1).startswith("/login?next=")
    assert "asdfqwer" in unquote(link.group(1))


def test_a_signed_in_user_publishes_the_query_in_one_click(make_browser) -> None:  # type: ignore[no-untyped-def]
    steel = make_browser("steel")
    query = "我们想搭建区块链供应链金融平台，解决中小供应商融资难"
    page = steel.get("/", params={"q": query})
    link = re.search(r'id="publish-need" href="([^"]+)"', page.text)
    assert link, "nothing in the catalog is close: the empty state offers to publish"
    assert link.group(1).startswith("/workspace/needs/new?")  # signed in: straight to the form
    form = steel.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200
    assert query in form.text  # the description is filled in
    assert f'value="{query[:60]}"' in form.text  # and the title from it


def test_counts_are_the_hits_labelled_related_or_better(browser: Browser) -> None:
    page = browser.get("/?q=高炉炉况监测")
    count = int(re.search(r'id="result-count" data-count="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    labels = re.findall(r'class="relevance relevance-(\w+)"', page.text)
    assert count >= 1 and len(labels) == count  # fewer than a page of results here
    assert set(labels) <= {"high", "related"}


def test_api_recommendations_only_recommend_what_reaches_related(make_browser, client) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from matcher import accounts
    from matcher.db import get_engine, session_scope
    from matcher.models import Need, User

    with session_scope(get_engine()) as session:
        user = session.exec(select(User).where(User.email == "steel@example.cn")).one()
        token = accounts.new_api_token(session=session, user=user)
        need_id = session.exec(select(Need.id).where(Need.code == "N1")).one()
    data = client.get(
        f"/api/v1/needs/{need_id}/recommendations", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert data["technologies"], data
    for hit in data["technologies"]:
        assert hit["label"] in ("高度相关", "相关") and hit["relevance"] >= 50
    for team in data["teams"]:
        assert team["label"] in ("高度相关", "相关")
