/**
 * @module
 * libxl's device timeouts (`tools/libs/light/libxl_internal.h`,
 * lifecycle-and-migration.md §2.5), in nanoseconds of the context's clock.
 */
import { NS_PER_S } from "../../sim/clock.ts";

/** `LIBXL_INIT_TIMEOUT`: backend to InitWait; `~/console/tty` to appear. */
export const LIBXL_INIT_TIMEOUT_NS = 10 * NS_PER_S;
/** `LIBXL_HOTPLUG_TIMEOUT`: a hotplug script to finish. */
export const LIBXL_HOTPLUG_TIMEOUT_NS = 40 * NS_PER_S;
/** `LIBXL_DESTROY_TIMEOUT`: backend to Closed on removal (then force). */
export const LIBXL_DESTROY_TIMEOUT_NS = 10 * NS_PER_S;
