// The docker tier with the containerd image store (the suite: test/docker/suite.ts).
import { dockerTier } from './suite.js';

dockerTier('containerd');
