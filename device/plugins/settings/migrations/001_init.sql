-- The demo settings plugin: its settings and the users who may change them.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('device_name', 'embedtornado-demo');
INSERT INTO settings (key, value) VALUES ('ntp_server', 'pool.ntp.org');

-- password: an embedtornado.auth_passwords hash, never the password itself
CREATE TABLE users (
    name     TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    created  REAL NOT NULL
);
