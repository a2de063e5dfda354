/** Migrations of the shared `public` schema. Append only: a shipped migration never changes. */
export const publicMigrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'catalogs and jobs',
    sql: `
      create table public.catalogs (
        id uuid primary key default gen_random_uuid(),
        name text not null unique,
        schema_name text not null unique,
        source_directories text[] not null default '{}',
        organized_directory text,
        settings jsonb not null default '{}',
        schema_version int not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create table public.jobs (
        id uuid primary key default gen_random_uuid(),
        catalog_id uuid references public.catalogs(id) on delete cascade,
        type text not null,
        status text not null default 'queued'
          check (status in ('queued', 'running', 'completed', 'failed', 'cancelled')),
        params jsonb not null default '{}',
        progress jsonb not null default '{}',
        result jsonb,
        error text,
        created_at timestamptz not null default now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz not null default now()
      );
      create index jobs_catalog_status on public.jobs (catalog_id, status);
    `,
  },
  {
    version: 2,
    name: 'api tokens',
    sql: `
      create table public.api_tokens (
        id uuid primary key default gen_random_uuid(),
        name text not null unique,
        token_hash text not null unique,
        read_only boolean not null default false,
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );
      create index jobs_created on public.jobs (created_at desc);
    `,
  },
  {
    version: 3,
    name: 'job leases: one active job of a type per catalog, owned by a live process',
    sql: `
      alter table public.jobs
        add column owner text,
        add column lease_until timestamptz,
        add column error_code text;
      -- Older versions let two jobs of a type run on one catalog: all but the newest are closed
      -- before the rule below holds (the newest, ownerless, is taken over like any orphan).
      update public.jobs j set status = 'failed', error = 'interrupted before it finished (closed on upgrade)',
        error_code = 'interrupted', finished_at = now(), updated_at = now()
      where j.status in ('queued', 'running') and exists (
        select 1 from public.jobs k where k.catalog_id = j.catalog_id and k.type = j.type
          and k.status in ('queued', 'running') and (k.created_at, k.id) > (j.created_at, j.id));
      -- One scan and one duplicates job per catalog at a time, whichever process or host starts it.
      create unique index jobs_one_active on public.jobs (catalog_id, type) where status in ('queued', 'running');
    `,
  },
  {
    version: 4,
    name: 'organize plans by id, whatever their catalog',
    sql: `
      create table public.organize_plans (
        id uuid primary key,
        catalog_id uuid not null references public.catalogs(id) on delete cascade,
        created_at timestamptz not null default now()
      );
    `,
  },
  {
    version: 5,
    name: 'scan shards: the walk writes its file lists here as it goes, not into Redis',
    sql: `
      create table public.scan_shards (
        job_id uuid not null references public.jobs(id) on delete cascade,
        shard int not null,
        file_count int not null,
        -- The shard's files, gzipped (paths grouped by folder): a few bytes a file.
        files bytea not null,
        -- What ingesting the shard gave (counts and stage timings), or its error; null until then.
        outcome jsonb,
        primary key (job_id, shard)
      );
      -- Written once the walk has ended: what finalize needs beside the shards' outcomes.
      create table public.scan_walks (
        job_id uuid primary key references public.jobs(id) on delete cascade,
        files bigint not null,
        shards int not null,
        walked text[] not null,
        unread text[] not null,
        problems jsonb not null,
        problem_count int not null
      );
    `,
  },
];
