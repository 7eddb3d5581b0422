/**
 * The fixed vocabulary of the demo data set: what a mid-size French IT and
 * management consultancy sells, and who it staffs. Only names come from faker;
 * everything that has to be coherent (which skills a practice uses, what a
 * grade costs, what a mission is called) lives here.
 *
 * None of these strings contains a tab, newline or backslash, so they go into
 * COPY text rows unescaped.
 */

export type SkillCategory =
  | 'Programming languages'
  | 'Frameworks'
  | 'Cloud'
  | 'DevOps'
  | 'Data'
  | 'AI'
  | 'Security'
  | 'ERP'
  | 'Design'
  | 'Methods'
  | 'Finance'
  | 'Soft skills'
  | 'Spoken languages';

export const SKILLS: readonly { name: string; category: SkillCategory }[] = [
  ...(
    [
      'TypeScript',
      'JavaScript',
      'Java',
      'Kotlin',
      'Python',
      'Go',
      'Rust',
      'C#',
      'C++',
      'PHP',
      'Scala',
      'SQL',
      'ABAP',
      'COBOL',
      'Swift',
    ] as const
  ).map((name) => ({ name, category: 'Programming languages' as const })),
  ...(
    [
      'React',
      'Angular',
      'Vue.js',
      'Node.js',
      'Spring Boot',
      '.NET',
      'Django',
      'FastAPI',
      'Symfony',
      'GraphQL',
      'Flutter',
      'Next.js',
    ] as const
  ).map((name) => ({ name, category: 'Frameworks' as const })),
  ...(
    [
      'AWS',
      'Microsoft Azure',
      'Google Cloud',
      'OVHcloud',
      'Scaleway',
      'Serverless',
      'AWS Lambda',
      'Azure Functions',
      'Cloud FinOps',
    ] as const
  ).map((name) => ({ name, category: 'Cloud' as const })),
  ...(
    [
      'Kubernetes',
      'Docker',
      'Terraform',
      'Ansible',
      'GitLab CI',
      'GitHub Actions',
      'Jenkins',
      'Prometheus',
      'Grafana',
      'ArgoCD',
      'Helm',
      'Linux',
    ] as const
  ).map((name) => ({ name, category: 'DevOps' as const })),
  ...(
    [
      'PostgreSQL',
      'Oracle Database',
      'MongoDB',
      'Apache Spark',
      'Apache Kafka',
      'Airflow',
      'dbt',
      'Snowflake',
      'Databricks',
      'BigQuery',
      'Power BI',
      'Tableau',
      'Talend',
      'Data governance',
    ] as const
  ).map((name) => ({ name, category: 'Data' as const })),
  ...(
    [
      'Machine learning',
      'Deep learning',
      'NLP',
      'Computer vision',
      'LLM engineering',
      'MLOps',
      'PyTorch',
      'scikit-learn',
      'Prompt engineering',
    ] as const
  ).map((name) => ({ name, category: 'AI' as const })),
  ...(
    [
      'ISO 27001',
      'Penetration testing',
      'SOC operations',
      'IAM',
      'EBIOS RM',
      'GDPR compliance',
      'Zero Trust',
      'Cloud security',
      'Incident response',
    ] as const
  ).map((name) => ({ name, category: 'Security' as const })),
  ...(
    [
      'SAP S/4HANA',
      'SAP FI/CO',
      'SAP MM',
      'SAP SD',
      'SAP BW',
      'Oracle EBS',
      'Microsoft Dynamics 365',
      'Salesforce',
      'ServiceNow',
      'Workday',
    ] as const
  ).map((name) => ({ name, category: 'ERP' as const })),
  ...(
    [
      'UX research',
      'UI design',
      'Figma',
      'Design systems',
      'Accessibility (RGAA)',
      'Service design',
      'Product management',
      'Product discovery',
    ] as const
  ).map((name) => ({ name, category: 'Design' as const })),
  ...(
    [
      'Scrum',
      'Kanban',
      'SAFe',
      'Prince2',
      'PMP',
      'ITIL',
      'TOGAF',
      'Lean management',
      'Design thinking',
      'Domain-driven design',
      'Test-driven development',
    ] as const
  ).map((name) => ({ name, category: 'Methods' as const })),
  ...(
    [
      'IFRS',
      'Financial consolidation',
      'Management control',
      'Budget planning',
      'Treasury management',
      'Basel III',
      'Solvency II',
      'Anaplan',
    ] as const
  ).map((name) => ({ name, category: 'Finance' as const })),
  ...(
    [
      'Leadership',
      'Public speaking',
      'Negotiation',
      'Facilitation',
      'Change management',
      'Coaching',
      'Stakeholder management',
      'Business writing',
    ] as const
  ).map((name) => ({ name, category: 'Soft skills' as const })),
  ...(['English', 'German', 'Spanish', 'Italian', 'Arabic', 'Mandarin'] as const).map((name) => ({
    name,
    category: 'Spoken languages' as const,
  })),
];

export interface PracticeProfile {
  name: string;
  /** Relative headcount. */
  weight: number;
  /** Rate premium the market pays for this practice's specialists. */
  rateFactor: number;
  /** Categories its consultants' skills mostly come from. */
  categories: readonly SkillCategory[];
  /** Mission titles typical of the practice. */
  missionTitles: readonly string[];
}

/**
 * The first eight are the default demo practices; the rest let a bigger
 * data set ask for more without inventing names.
 */
export const PRACTICES: readonly PracticeProfile[] = [
  {
    name: 'Data & AI',
    weight: 18,
    rateFactor: 1.05,
    categories: ['Data', 'AI', 'Programming languages', 'Cloud'],
    missionTitles: [
      'Mise en place d’une plateforme data',
      'Migration du datawarehouse vers Snowflake',
      'Industrialisation des modèles de scoring',
      'Gouvernance des données clients',
      'Tableaux de bord de pilotage commercial',
      'Assistant conversationnel pour le service client',
      'Détection de fraude par machine learning',
      'Prévision de la demande',
      'Cadrage d’une stratégie IA générative',
      'Refonte des flux d’alimentation Kafka',
      'Data mesh : accompagnement des domaines',
      'MLOps : chaîne de déploiement des modèles',
    ],
  },
  {
    name: 'Cloud & DevOps',
    weight: 16,
    rateFactor: 1.0,
    categories: ['Cloud', 'DevOps', 'Programming languages', 'Security'],
    missionTitles: [
      'Migration du SI vers AWS',
      'Mise en place d’une landing zone Azure',
      'Industrialisation des déploiements Kubernetes',
      'Infrastructure as code avec Terraform',
      'Refonte de la chaîne CI/CD',
      'Plan de réversibilité cloud',
      'Observabilité et supervision de production',
      'Optimisation FinOps des coûts cloud',
      'Conteneurisation des applications legacy',
      'Plateforme interne de développement',
      'Reprise d’activité et sauvegardes',
    ],
  },
  {
    name: 'Cybersecurity',
    weight: 10,
    rateFactor: 1.1,
    categories: ['Security', 'Cloud', 'Methods', 'DevOps'],
    missionTitles: [
      'Audit de sécurité du SI',
      'Tests d’intrusion applicatifs',
      'Mise en conformité NIS 2',
      'Déploiement d’une solution IAM',
      'Analyse de risques EBIOS RM',
      'Pilotage de la certification ISO 27001',
      'Mise en place d’un SOC',
      'Sécurisation des environnements cloud',
      'Gestion de crise cyber',
      'Programme de sensibilisation des équipes',
    ],
  },
  {
    name: 'Digital Strategy',
    weight: 9,
    rateFactor: 1.15,
    categories: ['Methods', 'Soft skills', 'Design', 'Finance'],
    missionTitles: [
      'Schéma directeur du SI',
      'Stratégie de transformation digitale',
      'Cadrage d’un programme omnicanal',
      'Due diligence IT',
      'Organisation de la DSI',
      'Assistance à maîtrise d’ouvrage',
      'Rationalisation du portefeuille applicatif',
      'Pilotage du PMO de transformation',
      'Feuille de route produit',
      'Benchmark des solutions du marché',
    ],
  },
  {
    name: 'Software Engineering',
    weight: 20,
    rateFactor: 0.95,
    categories: ['Programming languages', 'Frameworks', 'DevOps', 'Methods'],
    missionTitles: [
      'Refonte du portail client',
      'Développement d’une application mobile',
      'Modernisation d’une application COBOL',
      'Découpage en microservices',
      'API de paiement',
      'Développement d’un back-office métier',
      'Tierce maintenance applicative',
      'Refonte du site e-commerce',
      'Renfort de l’équipe produit',
      'Mise en place d’une API GraphQL',
      'Migration vers Java 21 et Spring Boot 3',
      'Automatisation des tests',
    ],
  },
  {
    name: 'SAP & ERP',
    weight: 11,
    rateFactor: 1.1,
    categories: ['ERP', 'Finance', 'Programming languages', 'Methods'],
    missionTitles: [
      'Migration vers SAP S/4HANA',
      'Déploiement du module SAP FI/CO',
      'Intégration Salesforce et ERP',
      'Tierce maintenance SAP',
      'Paramétrage SAP MM',
      'Déploiement de ServiceNow ITSM',
      'Roll-out international de l’ERP',
      'Reprise des données ERP',
      'Mise en place de Workday',
      'Optimisation des processus order-to-cash',
    ],
  },
  {
    name: 'Product & Design',
    weight: 8,
    rateFactor: 0.95,
    categories: ['Design', 'Methods', 'Frameworks', 'Soft skills'],
    missionTitles: [
      'Recherche utilisateur',
      'Conception du design system',
      'Refonte UX de l’espace client',
      'Audit d’accessibilité RGAA',
      'Product ownership',
      'Ateliers de design thinking',
      'Prototypage d’un nouveau service',
      'Parcours de souscription en ligne',
      'Coaching agile des équipes produit',
    ],
  },
  {
    name: 'Finance Transformation',
    weight: 8,
    rateFactor: 1.05,
    categories: ['Finance', 'ERP', 'Data', 'Soft skills'],
    missionTitles: [
      'Refonte du processus de clôture',
      'Consolidation IFRS',
      'Outil de planification budgétaire',
      'Pilotage de la performance financière',
      'Mise en conformité Solvabilité II',
      'Automatisation du reporting réglementaire',
      'Optimisation du BFR',
      'Déploiement d’Anaplan',
      'Centre de services partagés comptable',
    ],
  },
  {
    name: 'Supply Chain & Operations',
    weight: 7,
    rateFactor: 1.0,
    categories: ['ERP', 'Data', 'Methods', 'Soft skills'],
    missionTitles: [
      'Optimisation de la chaîne logistique',
      'Déploiement d’un WMS',
      'Planification industrielle',
      'Excellence opérationnelle en usine',
      'Traçabilité des flux',
    ],
  },
  {
    name: 'Risk & Compliance',
    weight: 6,
    rateFactor: 1.1,
    categories: ['Finance', 'Security', 'Methods', 'Soft skills'],
    missionTitles: [
      'Dispositif de lutte anti-blanchiment',
      'Cartographie des risques opérationnels',
      'Mise en conformité Bâle III',
      'Contrôle permanent',
      'Programme de conformité RGPD',
    ],
  },
  {
    name: 'Change Management',
    weight: 6,
    rateFactor: 1.0,
    categories: ['Soft skills', 'Methods', 'Design'],
    missionTitles: [
      'Accompagnement au changement',
      'Plan de formation des utilisateurs',
      'Conduite du changement du programme ERP',
      'Communication de transformation',
      'Nouvelle organisation du travail hybride',
    ],
  },
  {
    name: 'Customer Experience',
    weight: 6,
    rateFactor: 1.0,
    categories: ['ERP', 'Design', 'Data', 'Frameworks'],
    missionTitles: [
      'Déploiement de Salesforce Service Cloud',
      'Programme de fidélité',
      'Connaissance client 360',
      'Refonte du centre de contacts',
      'Personnalisation des campagnes marketing',
    ],
  },
];

/** Suffixes that turn one mission title into a follow-up or a lot. */
export const MISSION_TITLE_VARIANTS: readonly string[] = [
  '',
  '',
  '',
  ' – phase 2',
  ' – cadrage',
  ' – run',
  ' – lot 2',
  ' – pilote',
];

/** Index order matches the `grade` enum. */
export const GRADES = ['JUNIOR', 'CONSULTANT', 'SENIOR', 'MANAGER', 'DIRECTOR', 'PARTNER'] as const;

export interface GradeProfile {
  weight: number;
  minRate: number;
  maxRate: number;
  /** Typical skill level, 1–5. */
  skillLevel: number;
}

export const GRADE_PROFILES: readonly GradeProfile[] = [
  { weight: 18, minRate: 350, maxRate: 500, skillLevel: 2.0 },
  { weight: 32, minRate: 450, maxRate: 650, skillLevel: 2.6 },
  { weight: 28, minRate: 600, maxRate: 850, skillLevel: 3.3 },
  { weight: 13, minRate: 800, maxRate: 1100, skillLevel: 3.6 },
  { weight: 6, minRate: 1050, maxRate: 1400, skillLevel: 3.8 },
  { weight: 3, minRate: 1350, maxRate: 1650, skillLevel: 3.9 },
];

export const MAX_DAILY_RATE = 1800;

/** Index order matches the `availability` enum. */
export const AVAILABILITIES = ['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE'] as const;
export const AVAILABLE = 0;
export const ON_MISSION = 1;
export const UNAVAILABLE = 2;

/**
 * Compound first names are common in France and faker's list has none; they
 * put hyphens into the search tests' data.
 */
export const COMPOUND_FIRST_NAMES: readonly string[] = [
  'Jean-Pierre',
  'Jean-Baptiste',
  'Jean-Marc',
  'Jean-Luc',
  'Jean-François',
  'Pierre-Louis',
  'Paul-Henri',
  'Louis-Marie',
  'Marie-Claire',
  'Marie-Hélène',
  'Marie-Laure',
  'Anne-Sophie',
  'Anne-Laure',
  'Marie-Christine',
  'Laure-Anne',
  'Jean-Michel',
];

/**
 * Surnames with particles and apostrophes, which faker's French list lacks
 * but a real French payroll has; the search tests need them.
 */
export const PARTICLE_LAST_NAMES: readonly string[] = [
  'D’Almeida',
  'N’Diaye',
  "D'Aubigné",
  "L'Hermitte",
  "D'Angelo",
  "N'Guessan",
  "D'Hondt",
  'Le Goff',
  'Le Gall',
  'Le Roux',
  'Le Floch',
  'Da Silva',
  'Dos Santos',
  'De Oliveira',
  'Saint-Martin',
  'Saint-Pierre',
  'De La Fontaine',
  'Du Pont',
  'Van der Berg',
  'Lévêque',
  'Bénard-Crozier',
  'Œillet',
  'Cœurdacier',
];

export const DOCUMENT_KINDS = [
  'CV',
  'CONTRACT',
  'CERTIFICATION',
  'MISSION_REPORT',
  'ID_DOCUMENT',
] as const;

/** Size range in bytes per kind: reports and scans are the big ones. */
export const DOCUMENT_SIZES: Record<(typeof DOCUMENT_KINDS)[number], [number, number]> = {
  CV: [40 * 1024, 900 * 1024],
  CONTRACT: [80 * 1024, 1536 * 1024],
  CERTIFICATION: [100 * 1024, 2 * 1024 * 1024],
  MISSION_REPORT: [300 * 1024, 5 * 1024 * 1024],
  ID_DOCUMENT: [150 * 1024, 4 * 1024 * 1024],
};

/** Kinds of a consultant's second and later documents (the first is a CV). */
export const LATER_DOCUMENT_WEIGHTS: readonly number[] = [10, 30, 20, 25, 15];

export const CERTIFICATIONS: readonly string[] = [
  'AWS_Solutions_Architect',
  'Azure_Fundamentals',
  'Google_Cloud_Data_Engineer',
  'CKA',
  'PSM_I',
  'PSPO_I',
  'PMP',
  'Prince2_Foundation',
  'ITIL_4',
  'TOGAF_9',
  'SAFe_Agilist',
  'CISSP',
  'ISO_27001_Lead_Implementer',
  'SAP_S4HANA_Finance',
  'Salesforce_Administrator',
  'ISTQB_Foundation',
  'Databricks_Data_Engineer',
  'TOEIC',
];

/** "de Lyon", "d’Orléans", "du Havre": French elides and contracts "de" before a city. */
function ofCity(city: string): string {
  if (city.startsWith('Le ')) return `du ${city.slice(3)}`;
  if (city.startsWith('Les ')) return `des ${city.slice(4)}`;
  if (/^[AEIOUYÀÂÉÈÊÎÔ]/i.test(city)) return `d’${city}`;
  return `de ${city}`;
}

/** Client name shapes besides faker's "X et Y" / "X SAS", in the style of big French accounts. */
export const CLIENT_NAME_PATTERNS: readonly ((lastName: string, city: string) => string)[] = [
  (lastName) => `Groupe ${lastName}`,
  (lastName) => `${lastName} Industries`,
  (lastName) => `${lastName} Assurances`,
  (lastName) => `${lastName} Énergie`,
  (lastName) => `Banque ${lastName}`,
  (_lastName, city) => `Mutuelle ${ofCity(city)}`,
  (_lastName, city) => `${city} Métropole`,
  (_lastName, city) => `CHU ${ofCity(city)}`,
  (_lastName, city) => `Caisse régionale ${ofCity(city)}`,
  (lastName) => `${lastName} Logistique`,
  (lastName) => `${lastName} Distribution`,
  (lastName) => `Laboratoires ${lastName}`,
];
