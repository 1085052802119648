/**
 * The message types a service's JSON can name inside `google.protobuf.Any`
 * (`{"@type": "type.googleapis.com/pkg.Message", ...}`): without them in a
 * registry, proto3 JSON cannot read or write an Any at all. By default every
 * message of the files a service serves and of the files they import, so a
 * service whose protos declare what its Any fields carry needs no setup.
 */
import { createRegistry, type DescFile, type DescService, type Registry } from '@bufbuild/protobuf';

export function typeRegistryOf(services: readonly DescService[], extra?: Registry): Registry {
  const files = new Set<DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file)) return;
    files.add(file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const service of services) visit(service.file);
  return extra ? createRegistry(...files, extra) : createRegistry(...files);
}
