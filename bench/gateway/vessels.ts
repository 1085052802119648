/**
 * The one method every target serves: vessel FindAvailable answered from a small
 * in-memory fleet. Each target runs the same lookup, so the benchmark measures
 * transport, routing and encoding, not the work of the handler.
 */

/** A vessel as protobuf-es gives it (lowerCamelCase fields). */
export interface VesselRecord {
  readonly id: string;
  readonly name: string;
  readonly capacity: number;
  readonly maxWeight: number;
  readonly available: boolean;
  readonly ownerId: string;
}

export const fleet: readonly VesselRecord[] = [
  {
    id: 'vessel001',
    name: 'Boaty McBoatface',
    capacity: 100,
    maxWeight: 50_000,
    available: false,
    ownerId: 'owner-1',
  },
  {
    id: 'vessel002',
    name: "Kane's Salty Secret",
    capacity: 500,
    maxWeight: 200_000,
    available: true,
    ownerId: 'owner-2',
  },
  {
    id: 'vessel003',
    name: 'The Black Pearl',
    capacity: 800,
    maxWeight: 400_000,
    available: true,
    ownerId: 'owner-3',
  },
];

/** First available vessel with at least this capacity and max weight. */
export function findAvailable(capacity: number, maxWeight: number): VesselRecord | undefined {
  return fleet.find((v) => v.available && v.capacity >= capacity && v.maxWeight >= maxWeight);
}

/** The vessel in proto JSON with proto field names, as berth answers it. */
export function vesselJson(v: VesselRecord): Record<string, unknown> {
  return {
    id: v.id,
    capacity: v.capacity,
    max_weight: v.maxWeight,
    name: v.name,
    available: v.available,
    owner_id: v.ownerId,
  };
}

/** The Specification every request carries: it matches vessel002. */
export const specification = { capacity: 300, max_weight: 100_000 };

/** The body every answer must carry (byte-for-byte in every target). */
export const expectedAnswer = JSON.stringify({ vessel: vesselJson(findAvailable(300, 100_000)!) });
