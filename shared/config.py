"""Service configuration: a `config.yml` read exactly as `nameko run` reads it.

Values may be written `${VAR:default}`; the environment wins, the default is
parsed as YAML (so numbers and lists keep their type).
"""
import yaml
from nameko.cli.main import setup_yaml_parser


def load_config(path):
    setup_yaml_parser()
    with open(path) as stream:
        return yaml.safe_load(stream)
