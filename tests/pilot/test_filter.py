"""The `/` filter of the windowed tables: every keystroke filters (no pause to wait for), in
memory once the search index is loaded (a worker starts loading it at `/`), with the rows the
SQL filter would give; after a triage action or a pull changed the data, an active filter
finds the new and the changed rows (the index is dropped and loaded again)."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.app import PlantechApp
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.partners.redtail.fake.dataset import FakeAccount
from plantech_tui.screens.refresh_report import RefreshReportScreen
from plantech_tui.screens.staged_dialogs import EditDescriptionModal
from plantech_tui.service.workspace import TableQuery, Workspace
from plantech_tui.widgets.record_table import QuerySource, RecordTable
from tests.helpers import make_big_plan

from .helpers import go_to_row, prepare_plan, screen_text, settle, type_text
from .test_bulk_triage import open_pending, set_filter, table


def source(t: RecordTable) -> QuerySource:
    assert isinstance(t.source, QuerySource)
    return t.source


async def test_every_keystroke_filters_in_memory_as_sql_would(db_path: Path) -> None:
    ids = make_big_plan(db_path, 300, ignored=20)
    ws = Workspace.open(db_path, "advisor")

    def sql(text: str) -> list[str]:
        return [str(k) for k in ws.staged_keys(ids["plan_id"], "pending", TableQuery(text))]

    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        assert not source(pending).search_ready  # nothing loaded before the filter is used
        await pilot.press("slash")
        await settle(pilot)  # the worker that loads the index
        assert source(pending).search_ready
        typed = ""
        for key, char in [("f", "f"), ("i", "i"), ("d", "d"), ("space", " "), ("0", "0"),
                          ("2", "2"), ("8", "8")]:
            await pilot.press(key)  # no waiting for a pause in the typing: at once
            typed += char
            assert pending.keys == sql(typed), typed
        assert pending.row_count == 3  # Fidelity 0028, 0280 and 0287
        await pilot.press("backspace", "backspace")  # "fid 0": widens again
        assert pending.filter_text == "fid 0" and pending.keys == sql("fid 0")
        await pilot.press("ctrl+u")  # the whole line at once
        await pilot.press(*"MORTICIA")
        assert pending.keys == sql("morticia") and pending.row_count == 150  # odd rows
        assert "filter “MORTICIA”: 150 rows" in screen_text(app)
        await pilot.press("escape")
        assert pending.filter_text == "" and pending.row_count == 300
    ws.close()


async def test_an_active_filter_finds_rows_a_triage_action_changed(db_path: Path) -> None:
    """Edit a description, then Stop Ignoring a row: the pending table's filter (its index
    loaded before the changes) shows both."""
    make_big_plan(db_path, 60, ignored=10)  # row 63 (ignored) is "Fidelity 0063"
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        await set_filter(pilot, "pending", "fidelity")
        await settle(pilot)
        assert source(pending).search_ready
        assert pending.row_count == 9  # rows 0, 7, … 56

        # a changed row: "Fidelity 0007" renamed "Zebra 7" (its company stays Fidelity)
        await go_to_row(pilot, "pending-table", "description", "Fidelity 0007")
        key = pending.cursor_key
        await pilot.press("enter")
        assert isinstance(app.screen, EditDescriptionModal)
        await type_text(pilot, "#field-description", "Zebra 7")
        await pilot.press("enter")
        await settle(pilot)
        assert pending.row_count == 9 and pending.cell(key or "", "description") == "Zebra 7"
        # dropped, and not rebuilt while nobody types in the filter line
        assert not source(pending).search_ready
        await set_filter(pilot, "pending", "zebra")  # `/` loads it again
        assert pending.keys == [key]
        await settle(pilot)
        assert source(pending).search_ready
        await set_filter(pilot, "pending", "zebra 7")  # now in memory, with the new text
        assert pending.keys == [key]

        # a row back from Ignored Data
        await set_filter(pilot, "pending", "fidelity")
        await pilot.press("3")
        await pilot.pause()
        back = await go_to_row(pilot, "ignored-table", "description", "Fidelity 0063")
        await pilot.press("I")
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        assert back in pending.keys and pending.row_count == 10
        assert "filter “fidelity”: 10 rows" in screen_text(app)
        await set_filter(pilot, "pending", "0063")
        assert pending.keys == [back]


async def test_an_active_filter_finds_a_row_a_pull_added(db_path: Path,
                                                         fake: FakeRedtailServer) -> None:
    await prepare_plan(db_path, fake)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        await set_filter(pilot, "pending", "zenith")
        await settle(pilot)
        assert source(pending).search_ready and pending.row_count == 0
        fake.data.add_account(FakeAccount(5999, [101], number="555-777123", company="Zenith",
                                          balance="12.00", account_type="Brokerage"))
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RefreshReportScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert pending.row_count == 1 and "Zenith" in screen_text(app)
        await set_filter(pilot, "pending", "zenith 7123")
        await settle(pilot)
        await set_filter(pilot, "pending", "zenith 71234")  # by the index loaded again
        assert source(pending).search_ready and pending.keys == []
        await set_filter(pilot, "pending", "zenith 7123")
        assert pending.row_count == 1


async def test_a_change_rebuilds_the_index_only_for_someone_typing(db_path: Path) -> None:
    """Another session's commits (noticed by the poll) must not rebuild the index of a table
    nobody is filtering; while the user types in its filter line, it loads again at once."""
    ids = make_big_plan(db_path, 40)
    other = Workspace.open(db_path, "advisor")
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        pending = table(app)
        await set_filter(pilot, "pending", "fidelity")  # kept, the cursor back on the rows
        await settle(pilot)
        assert source(pending).search_ready
        other.ignore(ids["plan_id"], [int(pending.keys[0])])
        app.refresh_screens()  # what the data_version poll does on another session's commit
        await settle(pilot)
        assert not source(pending).search_ready and pending.row_count == 5

        await pilot.press("slash")  # at the filter line now
        await settle(pilot)
        assert source(pending).search_ready
        other.ignore(ids["plan_id"], [int(pending.keys[0])])
        app.refresh_screens()
        await settle(pilot)
        assert source(pending).search_ready and pending.row_count == 4
    other.close()
