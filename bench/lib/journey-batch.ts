// The shape of bench/journey.bench.ts's record batches, shared by the bench and its posters.
/** records per POST, as the policy's hook sends at most (journey.lua BATCH_SIZE) */
export const BATCH = 100;
/** messages per run id: a ?run= lookup finds this many */
export const PER_RUN = 50;
