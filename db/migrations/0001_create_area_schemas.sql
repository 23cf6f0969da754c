-- One schema per area (DESIGN §2). Each area's own migrations create its tables inside its schema.
CREATE SCHEMA IF NOT EXISTS platform;
CREATE SCHEMA IF NOT EXISTS identity;
CREATE SCHEMA IF NOT EXISTS clusters;
CREATE SCHEMA IF NOT EXISTS gitops;
CREATE SCHEMA IF NOT EXISTS delivery;
CREATE SCHEMA IF NOT EXISTS access;
CREATE SCHEMA IF NOT EXISTS fleet;
