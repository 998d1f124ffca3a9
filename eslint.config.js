// Lint limits that keep functions readable (after Pepr's config): complexity 10,
// max-depth 3, max-params 4, no floating promises, explicit return types.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".tools/", "bin/", ".clusters/", ".bench/", ".cache/", "**/*.generated.ts", "web/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      complexity: ["error", 10],
      "max-depth": ["error", 3],
      "max-params": ["error", 4],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/explicit-function-return-type": ["error", { allowExpressions: true, allowTypedFunctionExpressions: true, allowHigherOrderFunctions: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Tests: describe/it callbacks are many and long by nature.
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: { "@typescript-eslint/explicit-function-return-type": "off", complexity: "off", "max-depth": "off" },
  },
);
