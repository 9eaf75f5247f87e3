-- Several sites in one installation (SITES_DIR): members belong to the network, roles are per site.
-- members.role is the member's role in their home site; home_site NULL is the installation's home site (its
-- first site, or its only one), which is where every member from before the network belongs.
ALTER TABLE members ADD COLUMN home_site TEXT CHECK (home_site IS NULL OR length(home_site) BETWEEN 1 AND 64);

-- Roles given in sites other than the member's home site (the facility manager of two houses). Anywhere
-- else a member is a plain member, and a guest (access/roles.ts roleAt, isGuestAt).
CREATE TABLE member_site_roles (
  member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  site      TEXT NOT NULL CHECK (length(site) BETWEEN 1 AND 64),
  role      TEXT NOT NULL CHECK (role IN ('member', 'facility', 'board', 'admin')),
  PRIMARY KEY (member_id, site)
);
