-- Roles replace the admin flag: admins stay admins; every other user could define and run tasks,
-- which is the Designer role.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'designer';
UPDATE users SET role = 'admin' WHERE is_admin <> 0;
ALTER TABLE users DROP COLUMN is_admin;
