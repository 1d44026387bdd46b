-- SQLite gives a new row max(rowid) + 1: once archiving or a delete removed the newest task, run or
-- log record, its id would be handed out again (an archived run and a live one sharing an id). Before
-- such a delete the store records each table's largest id here, and the inserts take ids above it
-- (src/store/sqlite/sqlite-id-floor.ts). PostgreSQL's sequences never hand an id out twice.
CREATE TABLE orrery_id_floor (
  name TEXT PRIMARY KEY,
  id INTEGER NOT NULL
);
