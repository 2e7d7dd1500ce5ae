// Unit tests of the extension's own logic (format, sessions model, paths, the request
// helper's errors): ts-jest compiles them; JupyterLab's ESM packages are not loaded.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
