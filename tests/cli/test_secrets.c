/* test_secrets.c — cli/secrets.c: argv scrubbing and message redaction. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

Test(secrets, scrub_uri)
{
    char a[] = "mssql://user:S3cr%40t@host:1433/db?encrypt=disable";
    cli_secrets_scrub_uri(a);
    cr_assert_str_eq(a, "mssql://user:********@host:1433/db?encrypt=disable");
    char b[] = "--dest-uri=postgresql://u:pw@h/db?password=other&sslmode=disable";
    cli_secrets_scrub_uri(b);
    cr_assert_str_eq(b, "--dest-uri=postgresql://u:**@h/db?password=*****&sslmode=disable");
    char c[] = "mssql://:tok.en/x@h/db?Authentication=ActiveDirectoryAccessToken";
    cli_secrets_scrub_uri(c);
    cr_assert(!strstr(c, "tok.en"), "%s", c);
    char d[] = "csv://plain.csv";
    cli_secrets_scrub_uri(d);
    cr_assert_str_eq(d, "csv://plain.csv");
}

Test(secrets, scrub_argv_and_env)
{
    char a0[] = "tdspipe", a1[] = "ingest", a2[] = "--source-uri", a3[] = "mssql://sa:hunter22@h/db";
    char *argv[] = {a0, a1, a2, a3, NULL};
    setenv("DESTINATION_URI", "postgresql://u:envpass@h/db", 1);
    cli_secrets_scrub_argv(4, argv);
    cr_assert(!strstr(a3, "hunter22"));
    cr_assert(!strstr(getenv("DESTINATION_URI"), "envpass"));
    unsetenv("DESTINATION_URI");
}

Test(secrets, redact)
{
    char msg[128] = "login failed for hunter22 and hunter22!";
    cli_secrets_register("hunter22");
    cli_secrets_register_uri("postgresql://u:pgpw123@h/db");
    cli_secrets_redact_all(msg);
    cr_assert_str_eq(msg, "login failed for *** and ***!");
    char m2[64] = "pgpw123 leaked";
    cli_secrets_redact_all(m2);
    cr_assert_str_eq(m2, "*** leaked");
    cli_secrets_forget();
}
