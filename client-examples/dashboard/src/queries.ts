/**
 * The GraphQL documents of the page; what they return is typed from the
 * schema (schema/schema.graphql) by gql.tada, not written by hand.
 */
import { graphql, type ResultOf, type VariablesOf } from '../../graphql.js';

export const TOP_SKILLS = 8;

export const STATS_CHANGED = graphql(`
  subscription DashboardStats($minIntervalMs: Int, $topSkills: Int!) {
    statsChanged(minIntervalMs: $minIntervalMs) {
      version
      computedAt
      consultants {
        total
        available
        onMission
        unavailable
        utilizationRate
      }
      missions {
        active
        averageDailyRate
      }
      practices {
        name
        consultants
        available
        onMission
        unavailable
      }
      topSkills(first: $topSkills) {
        name
        consultants
      }
    }
  }
`);

export type DashboardStats = NonNullable<ResultOf<typeof STATS_CHANGED>['statsChanged']>;

export const PRACTICES = graphql(`
  query DashboardPractices {
    practices {
      id
      name
    }
  }
`);

export type Practice = NonNullable<ResultOf<typeof PRACTICES>['practices']>[number];

export const CONSULTANTS_PAGE = graphql(`
  query DashboardConsultants(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $filter: ConsultantFilter
  ) {
    consultants(
      first: $first
      after: $after
      last: $last
      before: $before
      filter: $filter
      orderBy: { field: LAST_NAME, direction: ASC }
    ) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        node {
          id
          fullName
          email
          grade
          dailyRate
          availability
          practice {
            name
          }
          currentMission {
            client
          }
        }
      }
    }
  }
`);

export type ConsultantsConnection = NonNullable<ResultOf<typeof CONSULTANTS_PAGE>['consultants']>;
export type ConsultantRow = ConsultantsConnection['edges'][number]['node'];
/** The schema's `Availability` enum, as the filter takes it. */
export type Availability = NonNullable<
  NonNullable<VariablesOf<typeof CONSULTANTS_PAGE>['filter']>['availability']
>[number];
