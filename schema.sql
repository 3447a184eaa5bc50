-- arcsec_flask schema. Idempotent: applied at every start. Never drop anything here;
-- later changes go into the numbered migrations of arcsec_flask/repo/sqlite.py.

-- Every account and every organisation is an owner; resources belong to an owner.
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'organisation'))
);

CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL UNIQUE REFERENCES owners(id),
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    creation_date TEXT NOT NULL,
    -- Raised at logout: browser sessions carry the epoch they began in.
    session_epoch INTEGER NOT NULL DEFAULT 0
);

-- Keys are random (256 bits); only their sha256 is kept, which is enough for
-- secrets of that entropy and lets a key be found by an indexed lookup.
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL CHECK (scope IN ('api', 'upload')),
    key_hash TEXT NOT NULL UNIQUE,
    creation_date TEXT NOT NULL,
    UNIQUE (account_id, scope)
);

-- Failed password logins, to throttle guessing (keys are 256-bit: nothing to guess).
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL COLLATE NOCASE,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_login ON login_failures(login, at);

CREATE TABLE IF NOT EXISTS organisations (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL UNIQUE REFERENCES owners(id),
    subdomain TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    creation_date TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS memberships (
    organisation_id INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'visitor')),
    creation_date TEXT NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
-- The caller's organisations (GET /organisations/, profiles) start from the account.
CREATE INDEX IF NOT EXISTS memberships_account ON memberships(account_id);

CREATE TABLE IF NOT EXISTS observing_sites (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    longitude REAL,
    latitude REAL,
    height REAL,
    time_zone TEXT,
    country TEXT NOT NULL DEFAULT '',
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS observing_sites_owner ON observing_sites(owner_id, id);

CREATE TABLE IF NOT EXISTS telescopes (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    alias TEXT NOT NULL DEFAULT '',
    observing_site_id INTEGER REFERENCES observing_sites(id) ON DELETE SET NULL,
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telescopes_owner ON telescopes(owner_id, id);
CREATE INDEX IF NOT EXISTS telescopes_site ON telescopes(observing_site_id);

CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    telescope_id INTEGER REFERENCES telescopes(id) ON DELETE SET NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_owner ON datasets(owner_id, id);
CREATE INDEX IF NOT EXISTS datasets_telescope ON datasets(telescope_id);

-- Night logs, observations and calibrations are derived from the data files.
CREATE TABLE IF NOT EXISTS night_logs (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    telescope_id INTEGER NOT NULL REFERENCES telescopes(id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    -- Made by hand (POST): kept while empty, until deleted by hand.
    by_hand INTEGER NOT NULL DEFAULT 0,
    creation_date TEXT NOT NULL,
    UNIQUE (owner_id, telescope_id, date)
);

-- An observation or calibration groups the files of one night log and one target
-- (or type); files with no night log are grouped per dataset instead.
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    night_log_id INTEGER REFERENCES night_logs(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    target_name TEXT NOT NULL DEFAULT '',
    creation_date TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS observations_group
    ON observations(owner_id, IFNULL(night_log_id, 0), IFNULL(dataset_id, 0), target_name);

CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    night_log_id INTEGER REFERENCES night_logs(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('Biases', 'Darks', 'Flats', 'Others')),
    creation_date TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS calibrations_group
    ON calibrations(owner_id, IFNULL(night_log_id, 0), IFNULL(dataset_id, 0), type);

CREATE TABLE IF NOT EXISTS datafiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    storage_path TEXT NOT NULL UNIQUE,
    -- Absolute path of a file registered in place (`ingest --in-place`), read from there and
    -- never changed; NULL for a file in the storage folder (at storage_path).
    external_path TEXT,
    size INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    is_raw INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    format TEXT NOT NULL CHECK (format IN ('fits', 'xisf', 'other')),
    compression TEXT CHECK (compression IN ('gzip', 'bzip2', 'zip')),
    header TEXT NOT NULL DEFAULT '[]',
    -- 'read', 'none' (not FITS/XISF) or 'unreadable' (stored as sent, docs/API.md §8).
    header_status TEXT NOT NULL DEFAULT 'read'
        CHECK (header_status IN ('read', 'none', 'unreadable')),
    header_error TEXT,
    date_obs TEXT,
    frame_kind TEXT CHECK (frame_kind IN ('observation', 'calibration')),
    calibration_type TEXT,
    target_name TEXT,
    -- Read from the header (migration 4): the keyword date_obs came from, seconds,
    -- the normalised frame type (headers/model.FRAME_TYPES), "2x2", degrees Celsius.
    date_obs_source TEXT,
    exposure_time REAL,
    filter_name TEXT,
    frame_type TEXT,
    instrument_name TEXT,
    telescope_name TEXT,
    binning TEXT,
    ccd_temperature REAL,
    observation_id INTEGER REFERENCES observations(id) ON DELETE SET NULL,
    calibration_id INTEGER REFERENCES calibrations(id) ON DELETE SET NULL,
    night_log_id INTEGER REFERENCES night_logs(id) ON DELETE SET NULL,
    creation_date TEXT NOT NULL,
    UNIQUE (dataset_id, name)
);
CREATE INDEX IF NOT EXISTS datafiles_night_log ON datafiles(night_log_id);
CREATE INDEX IF NOT EXISTS datafiles_observation ON datafiles(observation_id);
CREATE INDEX IF NOT EXISTS datafiles_calibration ON datafiles(calibration_id);
-- An observer's filters (a dataset's darks, its Ha flats); and a filter across datasets.
-- On a database older than these columns, init_schema creates them after migration 4.
CREATE INDEX IF NOT EXISTS datafiles_dataset_frame_type
    ON datafiles(dataset_id, frame_type, filter_name);
CREATE INDEX IF NOT EXISTS datafiles_filter_name ON datafiles(filter_name);
-- The calibration frames around a light (repo/calibration_match.py): per dataset of the
-- telescope, per frame type, the time window as a range. Lights, most of the rows, are
-- left out (the query repeats the condition, so that SQLite may use the index).
CREATE INDEX IF NOT EXISTS datafiles_calibration_frames
    ON datafiles(dataset_id, frame_type, date_obs) WHERE frame_type <> 'light';

-- A data package: datasets handed over together, downloaded as one streamed zip.
CREATE TABLE IF NOT EXISTS datapackages (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_public INTEGER NOT NULL DEFAULT 0,
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS datapackages_owner ON datapackages(owner_id, id);
CREATE INDEX IF NOT EXISTS datapackages_public ON datapackages(is_public, id);

CREATE TABLE IF NOT EXISTS datapackage_datasets (
    datapackage_id INTEGER NOT NULL REFERENCES datapackages(id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (datapackage_id, dataset_id)
);
CREATE INDEX IF NOT EXISTS datapackage_datasets_dataset ON datapackage_datasets(dataset_id);

-- Targets of observation. observations_count matches observations on the target name
-- lower-case without spaces (repo/targets.py), which observations_target_key serves;
-- target_name last makes it covering, without which the planner prefers observations_group.
CREATE TABLE IF NOT EXISTS targets (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    identifier TEXT NOT NULL DEFAULT '',
    target_class TEXT NOT NULL DEFAULT 'AstronomicalObject' CHECK (target_class IN (
        'AstronomicalObject', 'Exoplanet', 'StandardStar', 'SolarSystemPlanet', 'SmallBody',
        'Microlensing', 'Transient'
    )),
    right_ascension REAL,
    declination REAL,
    mode TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS targets_owner ON targets(owner_id, id);
CREATE INDEX IF NOT EXISTS observations_target_key
    ON observations(owner_id, lower(replace(target_name, ' ', '')), target_name);

CREATE TABLE IF NOT EXISTS target_lists (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    creation_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS target_lists_owner ON target_lists(owner_id, id);

CREATE TABLE IF NOT EXISTS target_list_items (
    target_list_id INTEGER NOT NULL REFERENCES target_lists(id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (target_list_id, target_id)
);
CREATE INDEX IF NOT EXISTS target_list_items_target ON target_list_items(target_id);
