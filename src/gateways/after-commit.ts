/** AfterCommit moved to common/db (the audit chainer uses it too); kept here so existing imports work. */
export { AfterCommit } from '../common/db/after-commit';
