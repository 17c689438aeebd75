"""Pinyin initials of product names, as pypinyin reads whole phrases."""

from __future__ import annotations

import pytest
from pypinyin import Style, lazy_pinyin

from pos.catalog.initials import name_initials


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("利辛县蒲公英面条", "lxxpgymt"),
        ("南川液氮锁鲜竹笋", "ncydsxzs"),
        ("长白山人参", "cbsrs"),  # 长 read as chang in this phrase, zhang alone
        ("重庆小面", "cqxm"),
        ("红原牦牛肉酱 200g, A级", "hymnrj200gaj"),
        ("临夏高原娃娃菜（5kg）", "lxgywwc5kg"),
        ("", ""),
    ],
)
def test_initials_of_names(name: str, initials: str) -> None:
    assert name_initials(name) == initials


@pytest.mark.parametrize(
    "name", ["长乐番薯", "都江堰茶", "单县羊肉汤", "行唐大枣", "朝阳小米", "会泽土豆", "藏香猪"]
)
def test_cached_initials_agree_with_phrase_aware_pypinyin(name: str) -> None:
    spoken = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()
    assert name_initials(name) == spoken
