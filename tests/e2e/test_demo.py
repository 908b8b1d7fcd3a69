"""`make demo` tells the whole story against a running system, the mails
read from the system's mail catcher as `make demo` reads maildev's."""
import subprocess

from tests.conftest import ROOT


def test_the_demo_script_runs_the_whole_story(system):
    result = subprocess.run([str(ROOT / ".venv/bin/python"), "scripts/demo.py"], cwd=ROOT,
                            env={**system.env, "GATEWAY_URL": system.base_url,
                                 "MAILDEV_URL": f"http://127.0.0.1:{system.mailbox.web_port}"},
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "Verify your email address" in output
    assert f"{system.base_url}/verify-email?token=" in output
    assert "email verified: True" in output
    assert "invites you to the team of FOSSASIA Summit" in output
    assert f"{system.base_url}/role-invites/accept?token=" in output
    assert "status accepted, role granted: True" in output
    assert "answers the same copy: True" in output
    assert "state                              published -> draft" in output
    assert "orders                             1 -> 0" in output
    assert "attendees                          2 -> 0" in output
    assert "(the copy's: True)" in output
    assert "(coorganizer)" in output
    assert output.count("differs; same bytes: True") == 2
    assert output.rstrip().endswith("Done.")
