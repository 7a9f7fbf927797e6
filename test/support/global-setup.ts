// Placeholder replaced by the services-backed setup (core/services.ts).
export default async function setup(): Promise<void> {}
