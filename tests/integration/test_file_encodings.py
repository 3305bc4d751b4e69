"""Files saved by Excel import: the CLI reads UTF-8 (with or without BOM) or GB18030, says which, and refuses
anything else naming the byte."""

from __future__ import annotations

import pytest
from qunyun.adapters.groups import GroupRepository
from qunyun_ops.cli import app
from typer.testing import CliRunner

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
ROWS = [HEADER, "g1,茶饮宝妈群 1,welfare,outbox,,,,,,,,vip;宝妈,门店01,李娜,",
        "g2,冲泡课学习群,learning,outbox,,,,,,,,,,,"]


def _import(path, tenant_id: str):
    result = CliRunner().invoke(app, ["groups", "import", str(path), "--tenant", tenant_id])
    return result, result.stdout + (result.stderr if result.stderr_bytes is not None else "")


@pytest.mark.parametrize(("encoding", "said"), [("gb18030", "GB18030"), ("gbk", "GB18030"),
                                                ("utf-8-sig", "UTF-8 with BOM"), ("utf-8", "UTF-8")])
def test_a_csv_saved_by_excel_imports_exactly(tenant, tmp_path, encoding, said):
    # GIVEN a group CSV with Chinese names saved as Chinese Excel saves it (GB18030/GBK), or as UTF-8
    path = tmp_path / "groups.csv"
    path.write_bytes("\r\n".join(ROWS).encode(encoding))
    # WHEN it is imported
    result, shown = _import(path, tenant.tenant_id)
    # THEN the command says how it read the file, and every name, tag and store is stored exactly
    assert result.exit_code == 0, shown
    assert f"read groups.csv as {said}" in shown
    groups = {g.group_id: g for g in GroupRepository().list(tenant.tenant_id)}
    assert (groups["g1"].name, groups["g1"].tags, groups["g1"].store, groups["g1"].sales_rep) == \
        ("茶饮宝妈群 1", ["vip", "宝妈"], "门店01", "李娜")
    assert groups["g2"].name == "冲泡课学习群"


def test_a_latin1_file_is_refused_naming_the_byte(tenant, tmp_path):
    # GIVEN a CSV saved as Latin-1 (Western Excel): é is byte 0xE9, followed by a comma
    path = tmp_path / "groups.csv"
    text = "\n".join([HEADER, "g1,Café,learning,outbox,,,,,,,,,,,"])
    path.write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    # WHEN it is imported
    result, shown = _import(path, tenant.tenant_id)
    # THEN it is refused, naming the byte, its offset and line, and how to fix it; nothing is stored
    assert result.exit_code == 2
    assert f"neither UTF-8 (byte 0xE9 at offset {offset}, line 2) nor GB18030 (byte 0xE9 at offset {offset}, " \
           "line 2)" in shown
    assert "save it as UTF-8" in shown
    assert list(GroupRepository().list(tenant.tenant_id)) == []


def test_a_file_invalid_in_both_names_where_each_reading_failed(tenant, tmp_path):
    # GIVEN a file whose UTF-8 is broken only on line 3 but which GB18030 cannot read from line 2 on
    path = tmp_path / "groups.csv"
    data = (HEADER + "\n").encode() + "g1,茶,learning,outbox,,,,,,,,,,,\n".encode() + b"g2,\xff,other,outbox\n"
    path.write_bytes(data)
    utf8_at = data.index(b"\xff")
    gb_at = len((HEADER + "\ng1,").encode()) + 2  # 茶 is E8 8C B6: E8 8C is one GB18030 character, B6 ',' is not
    # WHEN it is imported
    result, shown = _import(path, tenant.tenant_id)
    # THEN both places are named
    assert result.exit_code == 2
    assert f"neither UTF-8 (byte 0xFF at offset {utf8_at}, line 3) nor GB18030 (byte 0xB6 at offset {gb_at}, " \
           "line 2)" in shown
    assert list(GroupRepository().list(tenant.tenant_id)) == []


def test_yaml_files_are_read_the_same_way(tenant, tmp_path):
    # GIVEN earning rules saved as GB18030, with a Chinese comment
    path = tmp_path / "rules.yaml"
    path.write_bytes("# 签到积分\ncheckin:\n  base: 5\n".encode("gb18030"))
    # WHEN they are set
    result = CliRunner().invoke(app, ["points", "rules", "set", str(path), "--tenant", tenant.tenant_id])
    shown = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    # THEN the command reads them and says how
    assert result.exit_code == 0, shown
    assert "read rules.yaml as GB18030" in shown
