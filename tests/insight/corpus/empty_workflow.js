/**
 * Does nothing yet.
 */
export default async function (ctx) {}
