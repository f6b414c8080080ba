import { isDecimalId } from './sandbox-wire';

/** An Instagram professional account linked to a Facebook Page (`instagram_business_account`). */
export interface FacebookInstagramAccount {
  /** The Instagram professional account id (17841…), the same id Instagram Login's `/me` gives as `user_id`. */
  id: string;
  username: string;
  name: string;
  followersCount: number;
  mediaCount: number;
}

/** What a test may change of an Instagram account behind a Page (its id never changes). */
export type FacebookInstagramAccountUpdate = Partial<Omit<FacebookInstagramAccount, 'id'>>;

export interface FacebookPage {
  id: string;
  name: string;
  category: string;
  /** Owned by a business portfolio: `/me/accounts` lists it only when `business_management` was granted. */
  businessOwned: boolean;
  instagram?: FacebookInstagramAccount;
}

export interface FacebookPerson {
  /** The app-scoped Facebook user id: `/me`'s `id`, `user_id` in debug_token and in Meta's signed callbacks. */
  id: string;
  name: string;
  /** In development mode only people with a role on the app may log in to it ("App not active"). */
  tester: boolean;
  pages: FacebookPage[];
}

/**
 * Built-in Facebook test people. Every person id and Instagram id is odd, 17 digits and above 2^53, so
 * `JSON.parse` changes its last digit. The Instagram accounts behind Alex's Pages are the ones the
 * Instagram Login surface knows (the same professional account can be reached both ways).
 */
export const SANDBOX_FACEBOOK_PEOPLE: readonly FacebookPerson[] = deepFreeze([
  {
    id: '10160123456789013',
    name: 'Alex Rivera',
    tester: true,
    pages: [
      {
        id: '112233445566771',
        name: 'Sunny Bakery',
        category: 'Bakery',
        businessOwned: false,
        instagram: {
          id: '17841405793187219',
          username: 'sunny.bakery',
          name: 'Sunny Bakery',
          followersCount: 1284,
          mediaCount: 87,
        },
      },
      {
        id: '112233445566773',
        name: 'Trail Runner Jo',
        category: 'Athlete',
        businessOwned: false,
        instagram: {
          id: '17841401234567893',
          username: 'trail.runner.jo',
          name: 'Jo on the Trails',
          followersCount: 15230,
          mediaCount: 412,
        },
      },
      { id: '112233445566775', name: 'Corner Shop', category: 'Convenience Store', businessOwned: false },
      {
        id: '112233445566777',
        name: 'Pixel Garden Studio',
        category: 'Design Studio',
        businessOwned: true,
        instagram: {
          id: '17841407654321097',
          username: 'pixel.garden.studio',
          name: 'Pixel Garden Studio',
          followersCount: 342,
          mediaCount: 19,
        },
      },
    ],
  },
  {
    id: '10160987654321011',
    name: 'Sam Okafor',
    tester: true,
    pages: [
      {
        id: '112233445566779',
        name: 'Harbor Coffee',
        category: 'Coffee Shop',
        businessOwned: false,
        instagram: {
          id: '17841409876543213',
          username: 'harbor.coffee',
          name: 'Harbor Coffee',
          followersCount: 2071,
          mediaCount: 158,
        },
      },
    ],
  },
  {
    id: '10160555555555557',
    name: 'Morgan Blake',
    tester: false,
    pages: [{ id: '112233445566781', name: 'Blake Carpentry', category: 'Carpenter', businessOwned: false }],
  },
]);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** A deep copy the caller may change without changing the sandbox. */
export function copyPerson(person: FacebookPerson): FacebookPerson {
  return {
    ...person,
    pages: person.pages.map((page) => ({ ...page, ...(page.instagram ? { instagram: { ...page.instagram } } : {}) })),
  };
}

/** Fails fast on people the wire cannot carry (ids are written as bare numbers) or that collide. */
export function validatePeople(people: readonly FacebookPerson[]): FacebookPerson[] {
  if (people.length === 0) throw new Error('the Facebook sandbox needs at least one person');
  const ids = new Set<string>();
  const claim = (id: string) => {
    if (!isDecimalId(id)) throw new Error(`sandbox Facebook ids must be decimal digits: ${id}`);
    if (ids.has(id)) throw new Error(`sandbox Facebook id used twice: ${id}`);
    ids.add(id);
  };
  for (const person of people) {
    claim(person.id);
    for (const page of person.pages) {
      claim(page.id);
      if (page.instagram) claim(page.instagram.id);
    }
  }
  return people.map(copyPerson);
}
