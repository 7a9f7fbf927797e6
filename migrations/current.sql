-- GET /api/v1/jobs pages newest first by (created_at, id): without an index each page sorted the
-- whole table (a full scan per page). Scanned backwards, this one serves the order directly; the
-- kind and state filters are checked along the walk.
create index if not exists jobs_created on ao.jobs (created_at, id);

-- GET /api/v1/jobs/{id}/items pages a batch's children by (created_at, id): the parent index gains
-- the order, so a page of a 10,000-item batch reads its page, not every child. The leading
-- parent_id still serves the delete cascade.
drop index if exists ao.jobs_parent;
create index jobs_parent on ao.jobs (parent_id, created_at, id) where parent_id is not null;
