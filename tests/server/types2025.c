/*
 * types2025.c — SQL Server 2025's json (0xF4) and vector (0xF5) types in
 * tdstestd: what the login negotiated, per connection. A client that did
 * not ask for JSONSUPPORT/VECTORSUPPORT gets these columns as text, as
 * SQL Server sends them (issue 18).
 */
#include "query_int.h"

void srv_conn_set_types2025(srv_conn *c, uint8_t json_ver, uint8_t vector_ver)
{
    c->json_ver = json_ver;
    c->vector_ver = vector_ver;
}
