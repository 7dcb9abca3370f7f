-- Tympan's tables: what a single box keeps in data/ and artifacts/.

-- The fitted embedding (artifacts/embedding.json), one per database.
CREATE TABLE tympan_embedding (
    id          smallint PRIMARY KEY CHECK (id = 1),
    fingerprint text NOT NULL,
    body        text NOT NULL
);

-- The reference rows (data/ref_data.csv), in file order.
CREATE TABLE tympan_reference (
    n      bigint PRIMARY KEY,
    vector real[] NOT NULL,
    target text NOT NULL
);

-- The feedback rows (data/prod_data.csv): numbered 1, 2, 3... without gaps in the order they
-- were stored (appends take a transaction-scoped advisory lock), each at most once per key.
CREATE TABLE tympan_feedback (
    n          bigint PRIMARY KEY,
    vector     real[] NOT NULL,
    target     text NOT NULL,
    prediction text NOT NULL,
    key        text UNIQUE,
    stored_at  timestamptz NOT NULL DEFAULT now()
);

-- Every model version (artifacts/models/vNNNN/{model,meta}.json), as the JSON the files hold.
CREATE TABLE tympan_models (
    version    text PRIMARY KEY,
    number     integer NOT NULL UNIQUE,
    model      text NOT NULL,
    meta       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The served version (artifacts/current) and the champions before it, for rollbacks.
CREATE TABLE tympan_alias (
    name     text PRIMARY KEY,
    version  text NOT NULL REFERENCES tympan_models (version),
    previous text[] NOT NULL DEFAULT '{}'
);

-- Every change of an alias, oldest first.
CREATE TABLE tympan_alias_history (
    id      bigserial PRIMARY KEY,
    name    text NOT NULL,
    version text NOT NULL,
    action  text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
