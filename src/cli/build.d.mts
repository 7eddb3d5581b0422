/** Types of build.mjs (plain JavaScript: it runs before anything is compiled). */
export declare const root: string;
export declare const distDir: string;
export declare const entries: Record<string, string>;
export declare function build(stamp?: string): Promise<void>;
export declare function ensureBuilt(options?: { onBuild?: () => void }): Promise<boolean>;
