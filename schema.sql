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
-- An organisation's members in the order they joined (repo/members.list_), unsorted.
CREATE INDEX IF NOT EXISTS memberships_joined ON memberships(organisation_id, creation_date);

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
    creation_date TEXT NOT NULL,
    -- Kept by the datafiles_* triggers below: lists read them instead of counting files.
    data_files_count INTEGER NOT NULL DEFAULT 0,
    data_files_size INTEGER NOT NULL DEFAULT 0
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
    data_files_count INTEGER NOT NULL DEFAULT 0,  -- kept by the datafiles_* triggers
    UNIQUE (owner_id, telescope_id, date)
);
-- Lists run in id order within one owner (or one parent): an index on (x) holds (x, id),
-- so each of these serves its filter and the order together, without a sort.
CREATE INDEX IF NOT EXISTS night_logs_owner ON night_logs(owner_id, id);
CREATE INDEX IF NOT EXISTS night_logs_telescope ON night_logs(telescope_id);

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
    creation_date TEXT NOT NULL,
    data_files_count INTEGER NOT NULL DEFAULT 0  -- kept by the datafiles_* triggers
);
CREATE UNIQUE INDEX IF NOT EXISTS observations_group
    ON observations(owner_id, IFNULL(night_log_id, 0), IFNULL(dataset_id, 0), target_name);
CREATE INDEX IF NOT EXISTS observations_owner ON observations(owner_id, id);
CREATE INDEX IF NOT EXISTS observations_night_log ON observations(night_log_id);

CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    night_log_id INTEGER REFERENCES night_logs(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('Biases', 'Darks', 'Flats', 'Others')),
    creation_date TEXT NOT NULL,
    data_files_count INTEGER NOT NULL DEFAULT 0  -- kept by the datafiles_* triggers
);
CREATE UNIQUE INDEX IF NOT EXISTS calibrations_group
    ON calibrations(owner_id, IFNULL(night_log_id, 0), IFNULL(dataset_id, 0), type);
CREATE INDEX IF NOT EXISTS calibrations_owner ON calibrations(owner_id, id);
CREATE INDEX IF NOT EXISTS calibrations_night_log ON calibrations(night_log_id);

-- The hot row of a list: its header lives in datafile_headers, read by the header view only.
CREATE TABLE IF NOT EXISTS datafiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    -- A copy of the dataset's owner, so that an owner's list is one index range. Kept by
    -- the datafiles_owned triggers below (a writer may leave it out); no REFERENCES, as on
    -- a database that gained it by migration 6 (ADD COLUMN takes none with a default).
    owner_id INTEGER NOT NULL DEFAULT 0,
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
-- A parent's files in id order, with the owner check, read from the index alone (a deep
-- page skips index entries, not rows): (parent, owner_id) holds (parent, owner_id, id),
-- and a parent's files all have one owner. (Migration 6 drops the one-column indexes
-- these replace.) On a database older than owner_id, made after migration 6.
CREATE INDEX IF NOT EXISTS datafiles_dataset_owner ON datafiles(dataset_id, owner_id);
CREATE INDEX IF NOT EXISTS datafiles_night_log_owner ON datafiles(night_log_id, owner_id);
CREATE INDEX IF NOT EXISTS datafiles_observation_owner ON datafiles(observation_id, owner_id);
CREATE INDEX IF NOT EXISTS datafiles_calibration_owner ON datafiles(calibration_id, owner_id);
-- An observer's filters (a dataset's darks, its Ha flats); and a filter across datasets.
-- On a database older than these columns, init_schema creates them after migration 4.
CREATE INDEX IF NOT EXISTS datafiles_dataset_frame_type
    ON datafiles(dataset_id, frame_type, filter_name);
CREATE INDEX IF NOT EXISTS datafiles_filter_name ON datafiles(filter_name);
-- An owner's list, in id order, is one range of this index.
CREATE INDEX IF NOT EXISTS datafiles_owner ON datafiles(owner_id, id);

-- A file's header cards as JSON ([{"key", "value", "comment"}], repeated cards kept).
CREATE TABLE IF NOT EXISTS datafile_headers (
    datafile_id INTEGER PRIMARY KEY REFERENCES datafiles(id) ON DELETE CASCADE,
    header TEXT NOT NULL
);

-- owner_id is always the dataset's, whatever the writer gave (the WHEN skips the update
-- when it was right, as repo/datafiles.create gives it).
CREATE TRIGGER IF NOT EXISTS datafiles_owned AFTER INSERT ON datafiles
WHEN NEW.owner_id IS NOT (SELECT owner_id FROM datasets WHERE id = NEW.dataset_id)
BEGIN
    UPDATE datafiles SET owner_id = (SELECT owner_id FROM datasets WHERE id = NEW.dataset_id)
        WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS datafiles_reowned AFTER UPDATE OF dataset_id, owner_id ON datafiles
WHEN NEW.owner_id IS NOT (SELECT owner_id FROM datasets WHERE id = NEW.dataset_id)
BEGIN
    UPDATE datafiles SET owner_id = (SELECT owner_id FROM datasets WHERE id = NEW.dataset_id)
        WHERE id = NEW.id;
END;

-- The counts the lists show, kept by the database on every write to datafiles (deletes
-- cascading from a dataset and SET NULL from a night log fire these too), so a list
-- reads one column instead of counting its files.
CREATE TRIGGER IF NOT EXISTS datafiles_counted AFTER INSERT ON datafiles BEGIN
    UPDATE datasets SET data_files_count = data_files_count + 1,
        data_files_size = data_files_size + NEW.size WHERE id = NEW.dataset_id;
    UPDATE night_logs SET data_files_count = data_files_count + 1 WHERE id = NEW.night_log_id;
    UPDATE observations SET data_files_count = data_files_count + 1
        WHERE id = NEW.observation_id;
    UPDATE calibrations SET data_files_count = data_files_count + 1
        WHERE id = NEW.calibration_id;
END;
CREATE TRIGGER IF NOT EXISTS datafiles_uncounted AFTER DELETE ON datafiles BEGIN
    UPDATE datasets SET data_files_count = data_files_count - 1,
        data_files_size = data_files_size - OLD.size WHERE id = OLD.dataset_id;
    UPDATE night_logs SET data_files_count = data_files_count - 1 WHERE id = OLD.night_log_id;
    UPDATE observations SET data_files_count = data_files_count - 1
        WHERE id = OLD.observation_id;
    UPDATE calibrations SET data_files_count = data_files_count - 1
        WHERE id = OLD.calibration_id;
END;
CREATE TRIGGER IF NOT EXISTS datafiles_recounted
AFTER UPDATE OF dataset_id, size, night_log_id, observation_id, calibration_id ON datafiles
BEGIN
    UPDATE datasets SET data_files_count = data_files_count - 1,
        data_files_size = data_files_size - OLD.size
        WHERE id = OLD.dataset_id AND (OLD.dataset_id, OLD.size) IS NOT (NEW.dataset_id, NEW.size);
    UPDATE datasets SET data_files_count = data_files_count + 1,
        data_files_size = data_files_size + NEW.size
        WHERE id = NEW.dataset_id AND (OLD.dataset_id, OLD.size) IS NOT (NEW.dataset_id, NEW.size);
    UPDATE night_logs SET data_files_count = data_files_count - 1
        WHERE id = OLD.night_log_id AND OLD.night_log_id IS NOT NEW.night_log_id;
    UPDATE night_logs SET data_files_count = data_files_count + 1
        WHERE id = NEW.night_log_id AND OLD.night_log_id IS NOT NEW.night_log_id;
    UPDATE observations SET data_files_count = data_files_count - 1
        WHERE id = OLD.observation_id AND OLD.observation_id IS NOT NEW.observation_id;
    UPDATE observations SET data_files_count = data_files_count + 1
        WHERE id = NEW.observation_id AND OLD.observation_id IS NOT NEW.observation_id;
    UPDATE calibrations SET data_files_count = data_files_count - 1
        WHERE id = OLD.calibration_id AND OLD.calibration_id IS NOT NEW.calibration_id;
    UPDATE calibrations SET data_files_count = data_files_count + 1
        WHERE id = NEW.calibration_id AND OLD.calibration_id IS NOT NEW.calibration_id;
END;

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
-- A package's datasets in its order, without a sort per package listed.
CREATE INDEX IF NOT EXISTS datapackage_datasets_position
    ON datapackage_datasets(datapackage_id, position);

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
CREATE INDEX IF NOT EXISTS target_list_items_position
    ON target_list_items(target_list_id, position);
