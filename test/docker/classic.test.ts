// The docker tier with the classic image store (the suite: test/docker/suite.ts).
import { dockerTier } from './suite.js';

dockerTier('classic');
