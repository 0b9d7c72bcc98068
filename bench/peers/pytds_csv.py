"""pytds_csv.py — bench/run's pytds client: runs one query and writes every
row to a CSV file with the csv module (what a Python user of pytds would
write). Rows are fetched in batches (fetchmany), so memory stays flat.

  /usr/bin/python3 pytds_csv.py PORT USER PASSWORD DATABASE QUERY OUT.csv

Prints the row count. Exit 0 on success.
"""
import csv
import sys

import pytds


def main():
    port, user, password, database, query, out = sys.argv[1:7]
    conn = pytds.connect(dsn="127.0.0.1", port=int(port), user=user, password=password,
                         database=database, autocommit=True, login_timeout=10,
                         disable_connect_retry=True)
    n = 0
    with conn.cursor() as cur, open(out, "w", newline="", encoding="utf-8") as f:
        cur.execute(query)
        w = csv.writer(f)
        w.writerow([d[0] for d in cur.description])
        while True:
            rows = cur.fetchmany(10000)
            if not rows:
                break
            w.writerows(rows)
            n += len(rows)
    conn.close()
    print("pytds: %d rows" % n)


if __name__ == "__main__":
    main()
