-- The prediction log (each replica's data/predictions.csv), shared: every answered prediction
-- with its id, so that feedback by prediction_id works on any replica, not only on the one that
-- answered.
CREATE TABLE tympan_predictions (
    id            text PRIMARY KEY,
    answered_at   timestamptz NOT NULL,
    replica       text NOT NULL,
    model_version text NOT NULL,
    duration      double precision,
    classes       text[] NOT NULL,
    probabilities real[] NOT NULL,
    predicted     integer NOT NULL,
    vector        real[] NOT NULL
);
CREATE INDEX tympan_predictions_answered_at ON tympan_predictions (answered_at);
