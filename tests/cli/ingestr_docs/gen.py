#!/usr/bin/env python3
"""gen.py — writes v1.json and v2.json, the tdstestd scenarios of
e2e_ingestr_docs.sh, from the tables of ingestr's documentation examples.
v2 is v1 after the docs' "John changed his name to Johnny" (the third
ingestion of the incremental-loading examples). Run it after editing; the
JSON files are committed so the test needs nothing but tdstestd.

    python3 tests/cli/ingestr_docs/gen.py
"""
import copy
import json
import os

def table(schema, name, cols, data, pk=("id",), ct=False, not_null=()):
    t = {"schema": schema, "name": name,
         "columns": [{"name": n, "type": ty, **({"nullable": False} if n in pk or n in not_null else {})}
                     for n, ty in cols],
         "primary_key": list(pk), "data": data}
    if ct:
        t["change_tracking"] = True
    return t

SOME = [("id", "int"), ("name", "nvarchar(50)"), ("updated_at", "date")]
SOME_DT = [("id", "int"), ("name", "nvarchar(50)"), ("dt", "date")]
v1 = {
    "server": {"name": "tdstestd"},
    "logins": [
        # docs: postgresql://admin:admin@localhost:8837/web (incremental loading, quickstart)
        {"user": "admin", "password": "admin", "database": "web"},
        # docs: mssql+ct://user:password@host:1433/dbname, mssql://user:password@host:port/dbname
        {"user": "user", "password": "password", "database": "dbname"},
        # docs (azuresql.md): azuresql://$SQL_USER:$SQL_PASSWORD@…/mydb
        {"user": "sqluser", "password": "sqlpass", "database": "mydb"},
        # docs (mssql.md, Tips & Tricks): $USER:$TOKEN with Authentication=ActiveDirectoryAccessToken
        {"token": "*", "database": "dbname"},
    ],
    "databases": [
        {"name": "web", "schemas": ["my_schema", "public"], "tables": [
            # incremental-loading.md: append and merge examples (source table before John's change)
            table("my_schema", "some_data", SOME, [[1, "John", "2021-01-01"], [2, "Jane", "2021-01-01"]]),
            # quickstart.md: public.some_data
            table("public", "some_data", SOME, [[1, "John", "2021-01-01"], [2, "Jane", "2021-01-01"]]),
            # commands/ingest.md: public.users with a dt column, public.orders joined to it
            table("public", "users", SOME_DT, [[1, "Ada", "2023-01-01"], [2, "Grace", "2023-01-15"],
                                               [3, "Linus", "2023-02-01"], [4, "Margaret", "2023-01-31"]]),
            table("public", "orders", [("order_id", "int"), ("user_id", "int"), ("amount", "decimal(10,2)")],
                  [[10, 1, "5.00"], [11, 2, "7.50"], [12, 3, "9.99"], [13, 4, "1.25"]], pk=("order_id",)),
            # commands/ingest.md "Ingesting with Data Masking": customer_data
            table("dbo", "customer_data", [("id", "int"), ("email", "nvarchar(100)"), ("phone", "varchar(20)"),
                                           ("ssn", "varchar(11)"), ("salary", "int")],
                  [[1, "john.doe@example.com", "+1-555-123-4567", "123-45-6789", 72345]]),
            # commands/ingest.md "Trimming whitespace": public.customers
            table("public", "customers", [("id", "int"), ("name", "nvarchar(50)")],
                  [[1, "  Ada Lovelace  "], [2, "Grace\t"], [3, None]]),
            # custom_queries.md: order_items joined to orders
            table("dbo", "order_items", [("id", "int"), ("order_id", "int"), ("sku", "varchar(10)")],
                  [[100, 1, "A-1"], [101, 1, "B-2"], [102, 2, "C-3"]]),
            table("dbo", "orders", [("id", "int"), ("updated_at", "datetime2(6)")],
                  [[1, "2024-01-01 10:00:00"], [2, "2024-03-01 09:30:00"]]),
        ]},
        # incremental-loading.md: the delete+insert example's my_schema.some_data has dt
        # instead of updated_at; a database of its own keeps the docs' name
        {"name": "webdi", "schemas": ["my_schema"], "tables": [
            table("my_schema", "some_data", SOME_DT, [[1, "John", "2021-01-02"], [2, "Jane", "2021-01-02"]]),
        ]},
        # mssql.md: Change Tracking on dbo.users, token login on dbo.example
        {"name": "dbname", "snapshot_isolation": True,
         "change_tracking": {"enabled": True, "retention_days": 2, "auto_cleanup": True}, "tables": [
            table("dbo", "users", [("id", "int"), ("name", "nvarchar(50)"), ("email", "nvarchar(100)")],
                  [[1, "John", "john@example.com"], [2, "Jane", "jane@example.com"]], ct=True),
            table("dbo", "example", [("id", "int"), ("note", "nvarchar(20)")], [[1, "hello"], [2, "world"]]),
        ]},
        # mssql.md "Change Data Capture" and tutorials/cdc-sqlserver-duckdb.md:
        # mssql+cdc://…/shop, the tutorial's dbo.customers and rows (changes
        # captured at each commit, as the Agent's job does a moment later)
        {"name": "shop", "snapshot_isolation": True,
         "cdc": {"capture": "immediate", "tables": [{"schema": "dbo", "name": "customers"}]}, "tables": [
            table("dbo", "customers", [("id", "int"), ("name", "nvarchar(100)"), ("email", "nvarchar(255)")],
                  [[1, "Alice", "alice@example.com"], [2, "Bob", "bob@example.com"],
                   [3, "Carol", "carol@example.com"]], not_null=("name",)),
        ]},
        # azuresql.md: dbo.users in mydb
        {"name": "mydb", "tables": [
            table("dbo", "users", [("id", "int"), ("name", "nvarchar(50)")], [[1, "Ada"], [2, "Grace"]]),
        ]},
    ],
}
v2 = copy.deepcopy(v1)
for db in v2["databases"]:
    for t in db["tables"]:
        if t["name"] == "some_data" and t["schema"] == "my_schema":
            day = "2021-01-02"
            t["data"][0] = [1, "Johnny", day]
here = os.path.dirname(os.path.abspath(__file__))
for name, s in (("v1.json", v1), ("v2.json", v2)):
    with open(os.path.join(here, name), "w") as f:
        json.dump(s, f, indent=1, ensure_ascii=False)
        f.write("\n")
