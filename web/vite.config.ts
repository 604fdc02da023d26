import { defineConfig } from "vitest/config";

// esbuild turns JSX into React calls itself; no React plugin is needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "react" },
  resolve: {
    // The SDK is linked from ../sdk/typescript: one copy of the protobuf runtime.
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web", "react", "react-dom"],
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: { port: 5173 },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});
