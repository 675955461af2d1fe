import { HubRoutes } from './routing/hub-routes';
import { PathAliases } from './services/path-aliases';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OutboundModule } from '@hookhub/outbound';
import { TasksModule } from '@hookhub/tasks';
import { Receipt } from './entities/receipt.entity';
import { Rule } from './entities/rule.entity';
import { Source } from './entities/source.entity';
import { ConfigFileService } from './services/config-file.service';
import { ReceiptWriter } from './services/receipt-writer';
import { ReceiptsService } from './services/receipts.service';
import { ReceiverService } from './services/receiver.service';
import { RejectionBurstDetector } from './services/rejection-burst';
import { RulesService } from './services/rules.service';
import { SourceRegistry } from './services/source-registry';
import { SourcesService } from './services/sources.service';
import { ReceiptStore } from './stores/receipt.store';
import { RuleStore } from './stores/rule.store';
import { SourceStore } from './stores/source.store';

/**
 * Sources, verifiers, guards, the receiver, receipts and rules. Their tables are read and written only through
 * the stores (`sources`: SourceStore, `rules`: RuleStore, `receipts` and `inbound_dedup`: ReceiptStore).
 */
@Module({
  imports: [TypeOrmModule.forFeature([Source, Rule, Receipt]), TasksModule, OutboundModule],
  providers: [
    SourceStore,
    RuleStore,
    ReceiptStore,
    SourcesService,
    SourceRegistry,
    RulesService,
    ReceiptWriter,
    ReceiverService,
    ReceiptsService,
    ConfigFileService,
    RejectionBurstDetector,
    HubRoutes,
    PathAliases,
  ],
  exports: [
    SourceStore,
    RuleStore,
    ReceiptStore,
    SourcesService,
    SourceRegistry,
    RulesService,
    ReceiptWriter,
    ReceiverService,
    ReceiptsService,
    ConfigFileService,
    HubRoutes,
    PathAliases,
  ],
})
export class InboundModule {}
