"""The gateway benchmark's baseline: the least a nameko HTTP read can do.
`Front` answers `GET /row/<id>` with one RpcProxy call to `Reader`, which
reads one row. No token, no permission check, no problem mapping."""
import json

from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http
from sqlalchemy import text

from shared.db import Database


class Reader:
    name = "baseline_reader"

    db = Database()

    @rpc
    def get(self, row_id):
        with self.db.transaction() as session:
            row = session.execute(text("SELECT id, name FROM events WHERE id = :id"),
                                  {"id": row_id}).first()
        return {"id": row.id, "name": row.name}


class Front:
    name = "baseline_front"

    reader = RpcProxy("baseline_reader")

    @http("GET", "/row/<int:row_id>")
    def get(self, request, row_id):
        return 200, {"Content-Type": "application/json"}, json.dumps(self.reader.get(row_id))
