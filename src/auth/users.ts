import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { USER_ROLES, users } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError, isUniqueViolation } from '../errors.js';
import { hashPassword } from './passwords.js';

export const ROLES = USER_ROLES;
export type Role = (typeof ROLES)[number];

export const newUserSchema = z.object({
  email: z.email({ error: 'email must be an email address' }),
  name: z.string().trim().min(1, { error: 'name must not be empty' }),
  role: z.enum(ROLES, { error: `role must be one of ${ROLES.join(', ')}` }),
  password: z.string().min(8, { error: 'password must have at least 8 characters' }),
});
export type NewUser = z.infer<typeof newUserSchema>;

/** What the API and the logs may show of a user: never the password hash. */
export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export async function createUser(db: Executor, input: NewUser): Promise<UserView> {
  const parsed = newUserSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('bad_request', issue?.message ?? 'invalid user', String(issue?.path[0]));
  }
  const { email, name, role, password } = parsed.data;
  try {
    const [row] = await db
      .insert(users)
      .values({ email, name, role, passwordHash: await hashPassword(password) })
      .returning({ id: users.id, email: users.email, name: users.name, role: users.role });
    return row!;
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key')) {
      throw new AppError('conflict', `a user with email ${email} already exists`, 'email');
    }
    throw error;
  }
}

/**
 * The user signing in with this email (any case), with their password hash and whether
 * they are disabled: for checking a sign-in only. Undefined when there is none.
 */
export async function findUserForSignIn(
  db: Executor,
  email: string,
): Promise<typeof users.$inferSelect | undefined> {
  const [user] = await db.select().from(users).where(sql`lower(${users.email}) = lower(${email})`);
  return user;
}
