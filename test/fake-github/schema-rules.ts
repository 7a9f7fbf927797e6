import { schema as githubSchema } from '@octokit/graphql-schema';
import {
  buildClientSchema,
  getNamedType,
  NoDeprecatedCustomRule,
  specifiedRules,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type ValueNode,
} from 'graphql';

/** GitHub's published schema, built once per process (it is large). */
let built: GraphQLSchema | undefined;
export function schema(): GraphQLSchema {
  built ??= buildClientSchema(githubSchema.json as Parameters<typeof buildClientSchema>[0]);
  return built;
}

export const MAX_NODES = 500_000;

export interface QueryCheck {
  errors: string[];
  deprecated: number;
  cost: number;
  nodeCount: number;
}

function argValue(node: ValueNode | undefined, variables: Record<string, unknown>): unknown {
  if (!node) return undefined;
  if (node.kind === 'IntValue') return Number(node.value);
  if (node.kind === 'Variable') return variables[node.name.value];
  return undefined;
}

/**
 * What GitHub checks before running a query: the schema rules, every connection bounded by
 * `first` or `last` in 1..100, and at most 500,000 nodes. Also computes GitHub's point cost
 * (requests needed to fill every connection / 100, at least 1) and counts deprecated fields.
 */
export function checkQuery(document: DocumentNode, variables: Record<string, unknown>): QueryCheck {
  const s = schema();
  const errors = validate(s, document, specifiedRules).map((e) => e.message);
  const deprecated = validate(s, document, [NoDeprecatedCustomRule]).length;
  if (errors.length > 0) return { errors, deprecated, cost: 0, nodeCount: 0 };

  const typeInfo = new TypeInfo(s);
  // multiplicity of the enclosing connections: how many parents each nested field runs for
  const stack: number[] = [1];
  let requests = 0;
  let nodeCount = 0;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field: {
        enter(node) {
          const type = getNamedType(typeInfo.getType());
          const parent = stack[stack.length - 1] ?? 1;
          if (type && type.name.endsWith('Connection')) {
            const args = new Map((node.arguments ?? []).map((a) => [a.name.value, argValue(a.value, variables)]));
            const size = args.get('first') ?? args.get('last');
            if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 100) {
              errors.push(`You must provide a \`first\` or \`last\` value to properly paginate the \`${node.name.value}\` connection.`);
              stack.push(parent);
              return;
            }
            requests += parent;
            nodeCount += parent * size;
            stack.push(parent * size);
          } else {
            stack.push(parent);
          }
        },
        leave() {
          stack.pop();
        },
      },
    }),
  );
  if (nodeCount > MAX_NODES) errors.push(`This query requests up to ${nodeCount} possible nodes which exceeds the maximum limit of ${MAX_NODES}.`);
  return { errors, deprecated, cost: Math.max(1, Math.round(requests / 100)), nodeCount };
}
