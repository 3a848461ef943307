"""`central broker-config` without a broker: lane files, hashes, the files it writes."""

from __future__ import annotations

import argparse
import grp
import os
import stat
from pathlib import Path

import pytest
from needs import program
from paths import REPO

from central.broker_config.acl import central_rules, lane_rules, render_acl
from central.broker_config.bundle import BrokerConfigError, write_broker_config
from central.broker_config.lanes import LaneFilesError, LaneRef, read_lanes
from central.broker_config.passwd import PasswdError, hash_password, parse_line, verify_password
from central.commands.broker_config import register
from plumbing.cli import Groups


def lane_file(folder: Path, name: str, body: str) -> Path:
    path = folder / "lanes" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def plaza_file(folder: Path, name: str, body: str | None = None) -> Path:
    path = folder / "plazas" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if body is not None else f'kind = "plaza"\nid = "{name}"\n')
    return path


def good_lane(folder: Path, lane: str, plaza: str = "p1") -> Path:
    plaza_file(folder, plaza)
    return lane_file(
        folder, lane, f'kind = "lane"\nid = "{lane}"\nplaza = "../plazas/{plaza}.toml"\n'
    )


def problems_of(paths: list[Path]) -> list[str]:
    with pytest.raises(LaneFilesError) as caught:
        read_lanes(paths)
    return caught.value.problems


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(Groups(parser.add_subparsers(dest="command")))
    args = parser.parse_args(["central", "broker-config", *argv])
    code: int = args.func(args)
    return code


class TestLaneFiles:
    """Lane and plaza ids come from the lane file's `id` and its plaza file's `id`."""

    def test_the_shipped_lanes(self) -> None:
        lanes = read_lanes([REPO / "config" / "lanes"])
        assert {(lane.lane_id, lane.plaza_id) for lane in lanes} == {
            ("bridge-1", "bridge"),
            ("north-entry", "north"),
            ("riverside-entry", "riverside"),
            ("riverside-exit", "riverside"),
            ("south-exit", "south"),
        }

    def test_files_and_directories_mix(self, tmp_path: Path) -> None:
        one = good_lane(tmp_path / "a", "lane-1")
        good_lane(tmp_path / "b", "lane-2", plaza="p2")
        lanes = read_lanes([one, tmp_path / "b" / "lanes"])
        assert [(lane.lane_id, lane.plaza_id, lane.path) for lane in lanes] == [
            ("lane-1", "p1", one),
            ("lane-2", "p2", tmp_path / "b" / "lanes" / "lane-2.toml"),
        ]

    def test_missing_lane_id(self, tmp_path: Path) -> None:
        plaza_file(tmp_path, "p1")
        path = lane_file(tmp_path, "x", 'kind = "lane"\nplaza = "../plazas/p1.toml"\n')
        assert problems_of([path]) == [f"{path}: id: missing; expected the lane id (a string)"]

    @pytest.mark.parametrize("bad", ["Lane-A", "a/b", "+", "lane#1", "-lead", "x" * 33])
    def test_bad_lane_id(self, tmp_path: Path, bad: str) -> None:
        plaza_file(tmp_path, "p1")
        path = lane_file(tmp_path, "x", f'id = "{bad}"\nplaza = "../plazas/p1.toml"\n')
        [problem] = problems_of([path])
        assert problem.startswith(f"{path}: id: {bad!r} is not a valid lane id (pattern ")

    def test_lane_id_not_a_string(self, tmp_path: Path) -> None:
        plaza_file(tmp_path, "p1")
        path = lane_file(tmp_path, "x", 'id = 7\nplaza = "../plazas/p1.toml"\n')
        assert problems_of([path]) == [f"{path}: id: 7 is not the lane id (a string)"]

    def test_unreadable_toml(self, tmp_path: Path) -> None:
        path = lane_file(tmp_path, "x", 'id = "lane-1"\nplaza = \n')
        [problem] = problems_of([path])
        assert problem.startswith(f"{path}: not valid TOML: ")

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nope.toml"
        assert problems_of([path]) == [f"{path}: file not found"]

    def test_not_a_lane_file(self, tmp_path: Path) -> None:
        path = plaza_file(tmp_path, "p1")
        assert problems_of([path]) == [f"{path}: kind: 'plaza', expected 'lane' (a lane file)"]

    def test_missing_plaza_key(self, tmp_path: Path) -> None:
        path = lane_file(tmp_path, "x", 'id = "lane-1"\n')
        assert problems_of([path]) == [
            f"{path}: plaza: missing; expected the path of the plaza file"
        ]

    def test_plaza_file_missing(self, tmp_path: Path) -> None:
        path = lane_file(tmp_path, "x", 'id = "lane-1"\nplaza = "../plazas/gone.toml"\n')
        plaza = path.parent / "../plazas/gone.toml"
        assert problems_of([path]) == [f"{path}: plaza: {plaza}: file not found"]

    def test_bad_plaza_id(self, tmp_path: Path) -> None:
        plaza = plaza_file(tmp_path, "p1", 'kind = "plaza"\nid = "North Plaza"\n')
        path = lane_file(tmp_path, "x", 'id = "lane-1"\nplaza = "../plazas/p1.toml"\n')
        [problem] = problems_of([path])
        assert problem.startswith(
            f"{path}: plaza: {path.parent / '../plazas/p1.toml'}: id: 'North Plaza' is not a "
            "valid plaza id"
        ), plaza

    def test_every_fault_at_once(self, tmp_path: Path) -> None:
        good = good_lane(tmp_path, "lane-1")
        twin = lane_file(tmp_path, "twin", 'id = "lane-1"\nplaza = "../plazas/p1.toml"\n')
        broken = lane_file(tmp_path, "broken", "id = [\n")
        problems = problems_of([good, twin, broken])
        assert len(problems) == 2
        assert problems[0].startswith(f"{broken}: not valid TOML")
        assert problems[1] == (
            f"{twin}: id: lane 'lane-1' is also the id of {good} "
            "(lane ids are broker user names: unique)"
        )

    def test_empty_directory(self, tmp_path: Path) -> None:
        assert problems_of([tmp_path]) == [f"{tmp_path}: no lane files (*.toml) in this directory"]


class TestPasswordHash:
    """The `$7$` PBKDF2-SHA512 hash of Mosquitto 2's password file."""

    def test_round_trip_and_salted(self) -> None:
        first, second = hash_password("s3cret-pw"), hash_password("s3cret-pw")
        assert first != second
        assert first.startswith("$7$101$")
        assert verify_password("s3cret-pw", first)
        assert not verify_password("s3cret-pX", first)

    def test_known_vector(self) -> None:
        # Written by mosquitto_passwd 2.0.11 (`mosquitto_passwd -b F alice secret`).
        line = (
            "alice:$7$101$x7MMZ1QMiKFUN1TW$SNkZkgEVLt1NLuoB46htRpK0N2UI2Umz65KUlwLpCnhTt+jKbzYq"
            "u06jCDvbnvxsRLhc0dzAzv4qa/5SYXqtGg=="
        )
        user, hashed = parse_line(line)
        assert user == "alice"
        assert verify_password("secret", hashed)
        salt_b64 = hashed.split("$")[3]
        import base64

        assert hash_password("secret", salt=base64.b64decode(salt_b64)) == hashed

    def test_against_mosquitto_passwd(self, tmp_path: Path) -> None:
        import subprocess

        tool = program("mosquitto_passwd", "mosquitto")
        path = tmp_path / "pw"
        subprocess.run([tool, "-c", "-b", str(path), "lane-1", "Pa55-word!"], check=True)
        user, hashed = parse_line(path.read_text())
        assert user == "lane-1"
        assert verify_password("Pa55-word!", hashed)
        assert not verify_password("Pa55-word", hashed)

    @pytest.mark.parametrize(
        ("line", "fault"),
        [
            ("alice", "is not user:hash"),
            ("alice:$6$abc$def", "does not start $7$"),
            ("alice:$7$x$YWJj$YWJj", "$7$<iterations>$<salt>$<key>"),
            ("alice:$7$101$!!$YWJj", "not base64"),
            ("alice:$7$101$YWJj$YWJj", "is 3 bytes, not 64"),
        ],
    )
    def test_bad_lines(self, line: str, fault: str) -> None:
        with pytest.raises(PasswdError, match=fault.replace("$", r"\$")):
            parse_line(line)


class TestRules:
    """The ACL follows the topic tree's directions."""

    def test_lane_rules(self) -> None:
        rules = {(r.access, r.topic) for r in lane_rules(LaneRef("l1", "p1", Path("x")))}
        prefix = "lanewarden/v1/p1/l1/"
        assert rules == {
            *{
                ("write", prefix + k)
                for k in ["state", "txn", "event", "telemetry", "cmd/result", "lookup"]
            },
            ("read", prefix + "ack"),
            ("read", prefix + "cmd"),
            ("read", prefix + "lookup/reply"),
            ("read", prefix + "entries"),
            ("read", "lanewarden/v1/p1/config"),
            ("read", "lanewarden/v1/config"),
        }

    def test_central_rules(self) -> None:
        rules = {(r.access, r.topic) for r in central_rules()}
        kinds = ["state", "txn", "event", "telemetry", "cmd/result", "lookup"]
        assert rules == {
            *{("read", f"lanewarden/v1/+/+/{k}") for k in kinds},
            ("write", "lanewarden/v1/+/+/ack"),
            ("write", "lanewarden/v1/+/+/cmd"),
            ("write", "lanewarden/v1/+/+/lookup/reply"),
            ("write", "lanewarden/v1/+/+/entries"),
            ("write", "lanewarden/v1/+/config"),
            ("write", "lanewarden/v1/config"),
        }

    def test_acl_text_has_no_anonymous_rule(self) -> None:
        text = render_acl([LaneRef("l1", "p1", Path("x"))], ["central", "console"])
        rule_lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert rule_lines[0] == "user central"
        assert [line for line in rule_lines if line.startswith("user ")] == [
            "user central",
            "user console",
            "user l1",
        ]


class TestWrite:
    """Files, modes, kept and rotated passwords."""

    def test_files_and_modes(self, tmp_path: Path) -> None:
        lanes = read_lanes([good_lane(tmp_path, "lane-1"), good_lane(tmp_path, "lane-2")])
        out = tmp_path / "out"
        written = write_broker_config(lanes, out, port=18830, bind="127.0.0.1")
        assert written.created == ["central", "lane-1", "lane-2"]
        assert stat.S_IMODE(out.joinpath("credentials").stat().st_mode) == 0o700
        lines = out.joinpath("passwd").read_text().splitlines()
        for user, line in zip(["central", "lane-1", "lane-2"], lines, strict=True):
            credential = out / "credentials" / user
            assert stat.S_IMODE(credential.stat().st_mode) == 0o600
            password = credential.read_text()
            assert len(password) == 32
            assert "\n" not in password
            name, hashed = parse_line(line)
            assert name == user
            assert verify_password(password, hashed)
        assert stat.S_IMODE(out.joinpath("passwd").stat().st_mode) == 0o640
        conf = out.joinpath("mosquitto.conf").read_text().splitlines()
        assert conf[1:] == [
            "per_listener_settings true",
            "listener 18830 127.0.0.1",
            "allow_anonymous false",
            f"acl_file {out / 'acl'}",
            f"password_file {out / 'passwd'}",
        ]

    def test_rerun_keeps_passwords_and_bytes(self, tmp_path: Path) -> None:
        first = read_lanes([good_lane(tmp_path, "lane-1")])
        out = tmp_path / "out"
        write_broker_config(first, out)
        before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        lanes = read_lanes([tmp_path / "lanes", good_lane(tmp_path / "more", "lane-2")])
        written = write_broker_config(lanes, out)
        assert written.kept == ["central", "lane-1"]
        assert written.created == ["lane-2"]
        after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        for name in ["central", "lane-1", "mosquitto.conf"]:
            assert after[name] == before[name]
        assert after["passwd"].startswith(before["passwd"])  # same hash lines, one more

    def test_rotate(self, tmp_path: Path) -> None:
        lanes = read_lanes([good_lane(tmp_path, "lane-1")])
        out = tmp_path / "out"
        write_broker_config(lanes, out)
        old = out.joinpath("credentials", "lane-1").read_text()
        written = write_broker_config(lanes, out, rotate=True)
        assert written.rotated == ["central", "lane-1"]
        new = out.joinpath("credentials", "lane-1").read_text()
        assert new != old
        hashed = dict(parse_line(line) for line in out.joinpath("passwd").read_text().splitlines())
        assert verify_password(new, hashed["lane-1"])
        assert not verify_password(old, hashed["lane-1"])

    def test_a_lane_dropped_is_reported_not_deleted(self, tmp_path: Path) -> None:
        one, two = good_lane(tmp_path, "lane-1"), good_lane(tmp_path, "lane-2")
        out = tmp_path / "out"
        write_broker_config(read_lanes([one, two]), out)
        written = write_broker_config(read_lanes([one]), out)
        assert written.stale == ["lane-2"]
        assert out.joinpath("credentials", "lane-2").exists()
        assert "lane-2" not in out.joinpath("passwd").read_text()
        assert "lane-2" not in out.joinpath("acl").read_text()

    def test_a_damaged_credential_is_refused(self, tmp_path: Path) -> None:
        lanes = read_lanes([good_lane(tmp_path, "lane-1")])
        out = tmp_path / "out"
        write_broker_config(lanes, out)
        credential = out / "credentials" / "lane-1"
        credential.write_text(credential.read_text() + "\n")
        with pytest.raises(BrokerConfigError, match=f"{credential}: not a password .* --rotate"):
            write_broker_config(lanes, out)
        write_broker_config(lanes, out, rotate=True)
        assert "\n" not in credential.read_text()

    def test_group_of_the_password_file(self, tmp_path: Path) -> None:
        lanes = read_lanes([good_lane(tmp_path, "lane-1")])
        out = tmp_path / "out"
        own = grp.getgrgid(os.getgid()).gr_name  # a group any process may give its files
        write_broker_config(lanes, out, group=own)
        assert out.joinpath("passwd").stat().st_gid == os.getgid()
        assert stat.S_IMODE(out.joinpath("passwd").stat().st_mode) == 0o640
        with pytest.raises(BrokerConfigError, match="group 'no-such-grp': no such group"):
            write_broker_config(lanes, out, group="no-such-grp")

    def test_what_mosquitto_conf_cannot_say(self, tmp_path: Path) -> None:
        lanes = read_lanes([good_lane(tmp_path, "lane-1")])
        with pytest.raises(BrokerConfigError, match="cannot name a path with a blank"):
            write_broker_config(lanes, tmp_path / "my broker")
        with pytest.raises(BrokerConfigError, match=r"bind address '127\.0\.0\.1\\nlistener 1' is"):
            write_broker_config(lanes, tmp_path / "out", bind="127.0.0.1\nlistener 1")
        assert not (tmp_path / "my broker").exists()

    def test_central_user_names(self, tmp_path: Path) -> None:
        path = good_lane(tmp_path, "console")
        lanes = read_lanes([path])
        with pytest.raises(BrokerConfigError, match=f"{path}: id: lane 'console' has the name"):
            write_broker_config(lanes, tmp_path / "out", central_users=["ingest", "console"])
        with pytest.raises(BrokerConfigError, match="'Ingest' is not a valid user name"):
            write_broker_config(lanes, tmp_path / "out", central_users=["Ingest"])
        with pytest.raises(BrokerConfigError, match="no central user"):
            write_broker_config(lanes, tmp_path / "out", central_users=[])


class TestCommand:
    """`lanewarden central broker-config` prints what it did and exits 2 on bad input."""

    def test_writes_and_reports(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        good_lane(tmp_path, "lane-1")
        out = tmp_path / "out"
        argv = ["--lanes", str(tmp_path / "lanes"), "--out", str(out)]
        assert run_command([*argv, "--central-user", "ingest", "--central-user", "console"]) == 0
        assert "new password: ingest, console, lane-1" in capsys.readouterr().out
        assert run_command([*argv, "--central-user", "ingest"]) == 0
        printed = capsys.readouterr().out
        assert "password kept: ingest, lane-1" in printed
        assert f"credentials left in {out / 'credentials'}: console" in printed

    def test_bad_lane_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = lane_file(tmp_path, "x", 'plaza = "p.toml"\n')
        assert run_command(["--lanes", str(path), "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}: id: missing; expected the lane id (a string)\n"
        )
        assert not (tmp_path / "out").exists()

    def test_bad_port(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            run_command(["--lanes", str(tmp_path), "--out", str(tmp_path), "--port", "70000"])
        assert "'70000' is not a TCP port" in capsys.readouterr().err
