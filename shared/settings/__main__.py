"""Each service's `config.yml`, and the docs table, from its settings model.

    python -m shared.settings write   # every services/<name>/config.yml
    python -m shared.settings check   # exit 1 where one differs from its model
    python -m shared.settings table   # the Markdown table of every setting
"""
import argparse
import sys

from shared.settings.files import ROOT, config_path, config_yml, service_models, settings_table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shared.settings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["write", "check", "table"])
    command = parser.parse_args(argv).command
    models = service_models()
    if command == "table":
        print(settings_table(models))
        return 0
    stale = [model for model in models.values() if not config_path(model).exists()
             or config_path(model).read_text() != config_yml(model)]
    for model in stale:
        path = config_path(model).relative_to(ROOT)
        if command == "write":
            config_path(model).write_text(config_yml(model))
            print(f"written: {path}")
        else:
            print(f"{path} differs from its settings: python -m shared.settings write",
                  file=sys.stderr)
    return 1 if stale and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
