/** The GraphQL documents of the page and the shapes they return (see schema/schema.graphql). */

export const TOP_SKILLS = 8;

export const STATS_CHANGED = /* GraphQL */ `
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
`;

export interface DashboardStats {
  version: string;
  computedAt: string;
  consultants: {
    total: number;
    available: number;
    onMission: number;
    unavailable: number;
    utilizationRate: number;
  };
  missions: { active: number; averageDailyRate: number | null };
  practices: {
    name: string;
    consultants: number;
    available: number;
    onMission: number;
    unavailable: number;
  }[];
  topSkills: { name: string; consultants: number }[];
}

export const PRACTICES = /* GraphQL */ `
  query DashboardPractices {
    practices {
      id
      name
    }
  }
`;

export interface Practice {
  id: string;
  name: string;
}

export type Availability = 'AVAILABLE' | 'ON_MISSION' | 'UNAVAILABLE';

export const CONSULTANTS_PAGE = /* GraphQL */ `
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
`;

export interface ConsultantRow {
  id: string;
  fullName: string;
  email: string;
  grade: string;
  dailyRate: number;
  availability: Availability;
  practice: { name: string } | null;
  currentMission: { client: string } | null;
}

export interface ConsultantsPage {
  consultants: {
    totalCount: number;
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
    edges: { node: ConsultantRow }[];
  };
}
