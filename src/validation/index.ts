export { createValidator, type ValidateOptions, type ValidationResult, type Validator } from './validator.js';
export type { ConstraintStats } from './constraints.js';
