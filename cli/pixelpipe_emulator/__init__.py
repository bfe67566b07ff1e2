"""A Docker-free stand-in for the AWS side of Pixel-Pipe, used by the CLI (`pixelpipe up`, `demo`,
`process`), the tests, the benchmarks and the soak tool.

- `stack`: the local stack: an emulator process, one Lambda host process per function, the X-Ray daemon.
- `emulator`: moto in server mode, patched where it differs from AWS (atomic DynamoDB, S3 event shape,
  cached ASL parsing); `emulator_s3_events` is its S3 notification fix.
- `provision`: the resources Terraform creates, from the same pipeline.json, and the ASL templating.
- `lambda_host`: runs one handler the way Lambda would (event source mapping, partial batch responses).
- `xray_local`: the X-Ray daemon and segments for the state machine; `faults`: injected AWS errors;
  `call_recorder`: every AWS call a handler makes, for the least-privilege test.
- `target`: the stack description (`Target`, the internal queue keys) the local stack writes and every
  CLI command reads. It lives here, not in the CLI, because the emulator writes it and its Lambda hosts
  read it; `pixelpipe_cli.target` re-exports it and adds the commands' `current_target()`.

Imports point one way: `pixelpipe_cli` and the tests import this package, never the reverse. The
Lambdas' package (`pixelpipe`) is imported as the code under emulation.
"""
