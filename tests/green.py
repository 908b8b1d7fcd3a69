"""pytest plugin (`-p tests.green`): the test process runs green, as
`nameko run` does: eventlet's monkey patch before anything else is imported,
and psycopg2 made cooperative by the services' own `Database` setup."""
import eventlet


def pytest_load_initial_conftests(early_config, parser, args):
    eventlet.monkey_patch()
