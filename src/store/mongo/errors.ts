import { MongoServerError } from 'mongodb';

export const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000;
