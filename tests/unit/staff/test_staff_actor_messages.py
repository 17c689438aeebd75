"""The messages that name system actors and device kinds on the pages exist in every language."""

from __future__ import annotations

import pytest

from pos.pages.i18n import LANGUAGES, Language, catalog
from pos.staff.labels import MESSAGE_KEYS


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_actor_message_is_in_the_catalog(language: Language) -> None:
    assert MESSAGE_KEYS
    assert set(catalog(language)) >= MESSAGE_KEYS
